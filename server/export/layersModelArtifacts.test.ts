import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { examplesToTensors } from '../../shared/examplesTensors.js';
import { layoutOfModel } from '../../shared/layout.js';
import { buildModel, type ModelName } from '../../shared/models.js';
import { readFlatWeights } from '../../shared/training.js';
import { loadMnist, type MnistData } from '../data/mnist.js';
import { Evaluator } from '../evaluation/Evaluator.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { layersModelArtifacts, type LayersModelArtifacts } from './layersModelArtifacts.js';
import type { FreshProcessPrediction } from './predictInFreshProcess.js';
import { writeModelFiles } from './writeModelFiles.js';

const CNN_NAMES = [
  'conv1/kernel',
  'conv1/bias',
  'conv2/kernel',
  'conv2/bias',
  'logits/kernel',
  'logits/bias',
];
const CNN_PARAMETERS = 5_994;
/** Test examples the accuracy is compared on (loaded model here vs the Evaluator's thread). */
const EVAL_EXAMPLES = 2_000;
const EVAL_BATCH = 250;
/** Test examples the predictions are compared on. */
const PREDICT_EXAMPLES = 200;
const FRESH_PROCESS_EXAMPLES = 100;
const MAX_PREDICTION_DIFF = 1e-6;
const MAX_ACCURACY_DIFF = 1e-3;

const CHILD_SCRIPT = fileURLToPath(new URL('./predictInFreshProcess.ts', import.meta.url));

/** A real HTTP server on 127.0.0.1, port 0, serving whatever `files` (URL path -> bytes) holds. */
interface FileServer {
  readonly files: Map<string, Uint8Array>;
  readonly origin: string;
  close(): Promise<void>;
}

async function startFileServer(): Promise<FileServer> {
  const files = new Map<string, Uint8Array>();
  const server: Server = createServer((req, res) => {
    const body = req.method === 'GET' ? files.get(req.url ?? '') : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const type = req.url?.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': body.byteLength }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    files,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

/** Puts the two files under `/${prefix}/` and returns the model.json URL. */
function serve(server: FileServer, prefix: string, modelJson: Uint8Array, weightsBin: Uint8Array): string {
  server.files.set(`/${prefix}/model.json`, modelJson);
  server.files.set(`/${prefix}/weights.bin`, weightsBin);
  return `${server.origin}/${prefix}/model.json`;
}

function serveArtifacts(server: FileServer, prefix: string, artifacts: LayersModelArtifacts): string {
  const json = new TextEncoder().encode(JSON.stringify(artifacts.modelJson));
  return serve(server, prefix, json, artifacts.weightsBin);
}

async function predictions(model: tf.LayersModel, xs: tf.Tensor): Promise<Float32Array> {
  const probs = model.predict(xs) as tf.Tensor;
  const data = (await probs.data()) as Float32Array;
  probs.dispose();
  return data;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Fraction of the first `count` test examples whose argmax prediction is the label. */
async function accuracyOf(model: tf.LayersModel, data: MnistData, count: number): Promise<number> {
  let correct = 0;
  for (let start = 0; start < count; start += EVAL_BATCH) {
    const { xs, ys } = examplesToTensors(data.test, start, Math.min(EVAL_BATCH, count - start));
    const hits = tf.tidy(() =>
      tf.sum(tf.cast(tf.equal(tf.argMax(model.predict(xs) as tf.Tensor, -1), tf.argMax(ys, -1)), 'float32')),
    );
    correct += (await hits.data())[0];
    tf.dispose([xs, ys, hits]);
  }
  return correct / count;
}

async function runFreshProcess(url: string, count: number): Promise<FreshProcessPrediction> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', CHILD_SCRIPT, url, String(count)],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as FreshProcessPrediction;
}

async function randomWeightsOf(name: ModelName): Promise<Float32Array> {
  const model = buildModel(name);
  const flat = await readFlatWeights(model, layoutOfModel(model));
  model.dispose();
  return flat;
}

let server: FileServer;
let data: MnistData;

beforeAll(async () => {
  [server, data] = await Promise.all([startFileServer(), loadMnist(), initNodeTf('wasm')]);
});

afterAll(async () => {
  await server?.close();
});

describe('layersModelArtifacts (cnn, briefly trained, exported by a process that built cnn before)', () => {
  let evaluator: Evaluator;
  let trained: tf.Sequential;
  let flat: Float32Array;
  let artifacts: LayersModelArtifacts;
  let xs: tf.Tensor4D;
  let expected: Float32Array;

  beforeAll(async () => {
    evaluator = await Evaluator.start({ model: 'cnn', testSubset: EVAL_EXAMPLES });
    // A first build: every later build in this process gets uniquified variable names (conv1/kernel_1).
    buildModel('cnn').dispose();
    trained = buildModel('cnn');
    trained.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const train = examplesToTensors(data.train, 0, 6_400);
    await trained.fit(train.xs, train.ys, { batchSize: 64, epochs: 1, shuffle: false, verbose: 0 });
    tf.dispose([train.xs, train.ys]);
    flat = await readFlatWeights(trained, layoutOfModel(trained));
    artifacts = await layersModelArtifacts('cnn', flat);

    const test = examplesToTensors(data.test, 0, PREDICT_EXAMPLES);
    test.ys.dispose();
    xs = test.xs;
    expected = await predictions(trained, xs);
  }, 120_000);

  afterAll(async () => {
    await evaluator?.close();
    trained?.dispose();
    xs?.dispose();
  });

  it('the exporting process really has uniquified variable names', () => {
    expect(trained.weights.map((w) => w.originalName)).toEqual(CNN_NAMES);
    for (const w of trained.weights) expect(w.name).toMatch(/_\d+$/);
  });

  it('writes the standard model.json: layers-model, topology, one manifest group of original names', () => {
    const json = artifacts.modelJson;
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toBe(`TensorFlow.js tfjs-layers v${tf.version_layers}`);
    expect(json.convertedBy).toBeNull();
    expect(json.modelTopology).toMatchObject({ class_name: 'Sequential', config: { name: 'cnn' } });
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.weightsManifest[0].weights).toEqual([
      { name: 'conv1/kernel', shape: [5, 5, 1, 8], dtype: 'float32' },
      { name: 'conv1/bias', shape: [8], dtype: 'float32' },
      { name: 'conv2/kernel', shape: [5, 5, 8, 16], dtype: 'float32' },
      { name: 'conv2/bias', shape: [16], dtype: 'float32' },
      { name: 'logits/kernel', shape: [256, 10], dtype: 'float32' },
      { name: 'logits/bias', shape: [10], dtype: 'float32' },
    ]);
    // The JSON survives a round trip through text unchanged (no typed arrays or undefined inside).
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('weights.bin is the flat vector, little-endian float32 in layout order', () => {
    const bin = artifacts.weightsBin;
    expect(bin.byteLength).toBe(CNN_PARAMETERS * 4);
    const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    const decoded = Float32Array.from({ length: CNN_PARAMETERS }, (_, i) => view.getFloat32(i * 4, true));
    expect(decoded).toEqual(flat);
  });

  it('leaves no tensors behind and rejects a vector of the wrong length', async () => {
    const before = tf.memory().numTensors;
    await layersModelArtifacts('cnn', flat);
    expect(tf.memory().numTensors).toBe(before);
    await expect(layersModelArtifacts('cnn', new Float32Array(10))).rejects.toThrow(RangeError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('tf.loadLayersModel loads it over HTTP; its predictions equal the trained model', async () => {
    const loaded = await tf.loadLayersModel(serveArtifacts(server, 'cnn', artifacts));
    try {
      expect(loaded.weights.map((w) => w.originalName)).toEqual(CNN_NAMES);
      expect(maxAbsDiff(await predictions(loaded, xs), expected)).toBeLessThanOrEqual(MAX_PREDICTION_DIFF);
    } finally {
      loaded.dispose();
    }
  });

  it("the loaded model's test accuracy equals the Evaluator's for the same flat weights", async () => {
    const loaded = await tf.loadLayersModel(serveArtifacts(server, 'cnn', artifacts));
    try {
      const [mine, reference] = await Promise.all([
        accuracyOf(loaded, data, EVAL_EXAMPLES),
        evaluator.evaluate(flat),
      ]);
      expect(reference.examples).toBe(EVAL_EXAMPLES);
      expect(reference.accuracy).toBeGreaterThan(0.7); // trained, so a wrong weight order would show
      expect(Math.abs(mine - reference.accuracy)).toBeLessThanOrEqual(MAX_ACCURACY_DIFF);
    } finally {
      loaded.dispose();
    }
  });

  it('loads in a fresh process (no uniquified names there) with the same predictions', async () => {
    const url = serveArtifacts(server, 'cnn-fresh', artifacts);
    const child = await runFreshProcess(url, FRESH_PROCESS_EXAMPLES);
    // In the fresh process the variables' own names are the original ones: the manifest must use them.
    expect(child.weightNames).toEqual(CNN_NAMES);
    const mine = expected.subarray(0, FRESH_PROCESS_EXAMPLES * 10);
    expect(maxAbsDiff(child.predictions, mine)).toBeLessThanOrEqual(MAX_PREDICTION_DIFF);
  }, 60_000);

  describe('writeModelFiles', () => {
    let root: string;

    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'export-test-'));
    });

    afterAll(async () => {
      if (root) await rm(root, { recursive: true, force: true });
    });

    async function serveDir(dir: string, prefix: string): Promise<string> {
      const [json, bin] = await Promise.all([
        readFile(path.join(dir, 'model.json')),
        readFile(path.join(dir, 'weights.bin')),
      ]);
      return serve(server, prefix, json, bin);
    }

    it('creates the folder and writes two files that tf.loadLayersModel loads', async () => {
      const dir = path.join(root, 'nested', 'cnn');
      const written = await writeModelFiles(dir, artifacts);
      expect(written).toEqual({
        modelJson: path.join(dir, 'model.json'),
        weightsBin: path.join(dir, 'weights.bin'),
      });
      expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);

      const loaded = await tf.loadLayersModel(await serveDir(dir, 'written'));
      try {
        expect(maxAbsDiff(await predictions(loaded, xs), expected)).toBeLessThanOrEqual(MAX_PREDICTION_DIFF);
      } finally {
        loaded.dispose();
      }
      // The same files through tf.io.fromMemory, as a reader without HTTP would use them.
      const json = JSON.parse(await readFile(written.modelJson, 'utf8')) as tf.io.ModelJSON;
      const bin = await readFile(written.weightsBin);
      const fromMemory = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        }),
      );
      try {
        expect(maxAbsDiff(await predictions(fromMemory, xs), expected)).toBeLessThanOrEqual(
          MAX_PREDICTION_DIFF,
        );
      } finally {
        fromMemory.dispose();
      }
    });

    it('replaces an earlier export and leaves no temporary files', async () => {
      const dir = path.join(root, 'replaced');
      await writeModelFiles(dir, await layersModelArtifacts('cnn', await randomWeightsOf('cnn')));
      await writeModelFiles(dir, artifacts);
      expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
      const loaded = await tf.loadLayersModel(await serveDir(dir, 'replaced'));
      try {
        expect(maxAbsDiff(await predictions(loaded, xs), expected)).toBeLessThanOrEqual(MAX_PREDICTION_DIFF);
      } finally {
        loaded.dispose();
      }
    });

    it('rejects when a file cannot be replaced and removes its temporary file', async () => {
      const dir = path.join(root, 'blocked');
      await mkdir(path.join(dir, 'model.json'), { recursive: true }); // rename() over a folder fails
      await expect(writeModelFiles(dir, artifacts)).rejects.toThrow();
      expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    });
  });
});

describe.each<{ model: ModelName; parameters: number }>([
  { model: 'mlp', parameters: 101_770 },
  { model: 'deep-cnn', parameters: 3_274_634 },
])('layersModelArtifacts ($model, random weights)', ({ model, parameters }) => {
  it('exports, loads over HTTP with the same shapes and predicts as the original', async () => {
    const original = buildModel(model);
    const flat = await readFlatWeights(original, layoutOfModel(original));
    expect(flat.length).toBe(parameters);
    const artifacts = await layersModelArtifacts(model, flat);
    expect(artifacts.weightsBin.byteLength).toBe(parameters * 4);

    const loaded = await tf.loadLayersModel(serveArtifacts(server, model, artifacts));
    const { xs, ys } = examplesToTensors(data.test, 0, 1);
    try {
      expect(loaded.name).toBe(model);
      expect(loaded.weights.map((w) => [w.originalName, w.shape])).toEqual(
        original.weights.map((w) => [w.originalName, w.shape]),
      );
      expect(loaded.outputs[0].shape).toEqual([null, 10]);
      const [mine, reference] = [await predictions(loaded, xs), await predictions(original, xs)];
      expect(maxAbsDiff(mine, reference)).toBeLessThanOrEqual(MAX_PREDICTION_DIFF);
    } finally {
      tf.dispose([xs, ys]);
      loaded.dispose();
      original.dispose();
    }
  });
});
