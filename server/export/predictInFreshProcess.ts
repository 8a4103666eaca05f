/**
 * Test helper, run as a child process by layersModelArtifacts.test.ts:
 *   node --import tsx server/export/predictInFreshProcess.ts <model.json URL> <count>
 * Loads the exported model in a process that has built no model before (so its variable names carry
 * no `_1` suffixes), predicts the first <count> MNIST test digits on wasm and prints one JSON line:
 * `{ weightNames, predictions }` with predictions [count, 10] flattened.
 */
import * as tf from '@tensorflow/tfjs';

import { examplesToTensors } from '../../shared/examplesTensors.js';
import { loadMnistSplit } from '../data/mnist.js';
import { initNodeTf } from '../tf/initNodeTf.js';

export interface FreshProcessPrediction {
  /** The loaded model's variable names (`conv1/kernel`): unique names in this fresh process. */
  readonly weightNames: string[];
  /** Softmax outputs [count, 10], row-major. */
  readonly predictions: number[];
}

async function main(): Promise<void> {
  const [url, countArg] = process.argv.slice(2);
  const count = Number(countArg);
  if (!url || !Number.isInteger(count) || count < 1) {
    throw new Error('usage: predictInFreshProcess.ts <model.json URL> <count>');
  }
  await initNodeTf('wasm');
  const [model, test] = await Promise.all([tf.loadLayersModel(url), loadMnistSplit('test')]);
  const { xs, ys } = examplesToTensors(test, 0, count);
  const probs = model.predict(xs) as tf.Tensor;
  const result: FreshProcessPrediction = {
    weightNames: model.weights.map((w) => w.name),
    predictions: Array.from(await probs.data()),
  };
  tf.dispose([xs, ys, probs]);
  model.dispose();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
