import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { examplesToTensors } from '../../shared/examplesTensors.js';
import { layoutOfModel } from '../../shared/layout.js';
import { buildModel } from '../../shared/models.js';
import { loadMnist, type MnistData } from '../data/mnist.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { EvaluationError, Evaluator } from './Evaluator.js';

const SUBSET = 1_000;
const BATCH = 250;

/** The model's trainable weights as one flat vector, in layout order. */
function flatWeights(model: tf.LayersModel): Float32Array {
  const layout = layoutOfModel(model);
  const flat = new Float32Array(layout.totalLength);
  model.trainableWeights.forEach((w, i) =>
    flat.set(w.read().dataSync() as Float32Array, layout.tensors[i].offset),
  );
  return flat;
}

/** model.evaluate on this (main) thread over the same first SUBSET test examples. */
function evaluateOnMainThread(model: tf.LayersModel, data: MnistData): { loss: number; accuracy: number } {
  const { xs, ys } = examplesToTensors(data.test, 0, SUBSET);
  const [loss, accuracy] = model.evaluate(xs, ys, { batchSize: BATCH }) as tf.Scalar[];
  const result = { loss: loss.dataSync()[0], accuracy: accuracy.dataSync()[0] };
  tf.dispose([xs, ys, loss, accuracy]);
  return result;
}

const SAMPLES = 300; // more than one evaluation batch

describe('Evaluator (cnn, first 1,000 test examples)', () => {
  let evaluator: Evaluator;
  let data: MnistData;
  let model: tf.Sequential;
  let randomWeights: Float32Array;
  let trainedWeights: Float32Array;
  let randomReference: { loss: number; accuracy: number };
  let trainedReference: { loss: number; accuracy: number };

  beforeAll(async () => {
    [evaluator, data] = await Promise.all([
      Evaluator.start({ model: 'cnn', testSubset: SUBSET, batchSize: BATCH, sampleCount: SAMPLES }),
      loadMnist(),
      initNodeTf('wasm'),
    ]);
    model = buildModel('cnn');
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    randomWeights = flatWeights(model);
    randomReference = evaluateOnMainThread(model, data);

    // Train briefly on the main thread (100 steps of 64 examples) so the weights mean something.
    const { xs, ys } = examplesToTensors(data.train, 0, 6_400);
    await model.fit(xs, ys, { batchSize: 64, epochs: 1, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);
    trainedWeights = flatWeights(model);
    trainedReference = evaluateOnMainThread(model, data);
  }, 120_000);

  afterAll(async () => {
    await evaluator?.close();
    model?.dispose();
  });

  it('reports its shape', () => {
    expect(evaluator.parameterCount).toBe(5_994);
    expect(evaluator.examples).toBe(SUBSET);
    expect(evaluator.backend).toBe('wasm');
  });

  it('scores random weights near chance, exactly as model.evaluate does', async () => {
    const result = await evaluator.evaluate(randomWeights);
    expect(result.examples).toBe(SUBSET);
    expect(result.accuracy).toBeGreaterThanOrEqual(0);
    expect(result.accuracy).toBeLessThanOrEqual(0.3);
    expect(result.loss).toBeGreaterThan(1.5); // ln 10 = 2.30 for a uniform guess
    expect(Math.abs(result.accuracy - randomReference.accuracy)).toBeLessThan(1e-4);
    expect(Math.abs(result.loss - randomReference.loss)).toBeLessThan(1e-4);
  });

  it('scores briefly trained weights well above chance, exactly as model.evaluate does', async () => {
    const result = await evaluator.evaluate(trainedWeights);
    expect(trainedReference.accuracy).toBeGreaterThan(0.7);
    expect(Math.abs(result.accuracy - trainedReference.accuracy)).toBeLessThan(1e-4);
    expect(Math.abs(result.loss - trainedReference.loss)).toBeLessThan(1e-4);
  });

  it('reports the predicted class of the first test examples, as model.predict does', async () => {
    const result = await evaluator.evaluate(trainedWeights);
    const { xs, ys } = examplesToTensors(data.test, 0, SAMPLES);
    const predicted = tf.tidy(() => (model.predict(xs) as tf.Tensor).argMax(-1));
    expect(result.predictions).toEqual(Array.from(predicted.dataSync()));
    tf.dispose([xs, ys, predicted]);
  });

  it('evaluates a snapshot: changing the array after the call does not change the result', async () => {
    const weights = trainedWeights.slice();
    const pending = evaluator.evaluate(weights);
    weights.fill(0); // what the hub does when the next update lands
    const result = await pending;
    expect(Math.abs(result.accuracy - trainedReference.accuracy)).toBeLessThan(1e-4);
    expect(weights.every((v) => v === 0)).toBe(true); // the caller's array is still usable (not detached)
  });

  it('queues concurrent calls and answers each with its own weights, in order', async () => {
    const calls = [trainedWeights, randomWeights, trainedWeights, randomWeights].map((w) =>
      evaluator.evaluate(w),
    );
    expect(evaluator.queued).toBe(4);
    const results = await Promise.all(calls);
    expect(evaluator.queued).toBe(0);
    const references = [trainedReference, randomReference, trainedReference, randomReference];
    results.forEach((result, i) => {
      expect(Math.abs(result.accuracy - references[i].accuracy)).toBeLessThan(1e-4);
      expect(Math.abs(result.loss - references[i].loss)).toBeLessThan(1e-4);
    });
  });

  it('rejects a weight vector of the wrong length and stays usable', async () => {
    await expect(evaluator.evaluate(new Float32Array(10))).rejects.toThrow(/10 floats, the model has 5994/);
    const result = await evaluator.evaluate(trainedWeights);
    expect(result.examples).toBe(SUBSET);
  });
});

describe('Evaluator lifecycle and failures', () => {
  it('rejects start with a clear message when the MNIST files are missing', async () => {
    const start = Evaluator.start({ model: 'mlp', testSubset: 10, dataDir: '/nonexistent/mnist' });
    await expect(start).rejects.toBeInstanceOf(EvaluationError);
    await expect(start).rejects.toThrow(
      /failed to start: MnistFormatError: .*t10k-images-idx3-ubyte.*npm install/,
    );
  });

  it('rejects a bad testSubset before starting a thread', async () => {
    await expect(Evaluator.start({ model: 'mlp', testSubset: 0 })).rejects.toThrow(RangeError);
    await expect(Evaluator.start({ model: 'mlp', testSubset: 10_001 })).rejects.toThrow(RangeError);
  });

  it('close() rejects queued evaluations and later calls; a second close() is harmless', async () => {
    const evaluator = await Evaluator.start({ model: 'mlp', testSubset: 2_000 });
    const weights = new Float32Array(evaluator.parameterCount);
    const first = evaluator.evaluate(weights);
    const second = evaluator.evaluate(weights);
    const settled = Promise.allSettled([first, second]);
    await evaluator.close();
    for (const outcome of await settled) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(EvaluationError);
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/closed/);
    }
    await expect(evaluator.evaluate(weights)).rejects.toThrow(/closed/);
    await evaluator.close();
  });
});
