import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { initNodeTf } from '../server/tf/initNodeTf.js';
import type { Examples } from './examplesCodec.js';
import { examplesToTensors } from './examplesTensors.js';
import { layoutOfModel } from './layout.js';
import {
  innerOptimizer,
  LocalTrainer,
  noProgress,
  type BatchSource,
  type InnerBatch,
} from './LocalTrainer.js';
import { buildModel, IMAGE_PIXELS, NUM_CLASSES } from './models.js';
import { mulberry32 } from './random.js';
import { readFlatWeights, writeFlatWeights } from './training.js';
import { weightChange } from './weightChange.js';

const BATCH = 8;
const LR = 0.01;
/** Float32 on identical kernels: the two paths may round a little differently, never more. */
const TOLERANCE = 1e-6;

/** `count` seeded random examples. */
function syntheticExamples(count: number, seed: number): Examples {
  const random = mulberry32(seed);
  const images = new Uint8Array(count * IMAGE_PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(random() * 256);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = Math.floor(random() * NUM_CLASSES);
  return { count, images, labels };
}

/** Batches [i * BATCH, (i + 1) * BATCH) of `data`, in order. */
function batchesOf(data: Examples): BatchSource {
  let cursor = 0;
  return {
    next: async (size: number): Promise<InnerBatch> => {
      const count = Math.min(size, data.count - cursor);
      const { xs, ys } = examplesToTensors(data, cursor, count);
      cursor += count;
      return { xs, ys, count };
    },
  };
}

/** `steps` inner steps of `trainer` from `start`; returns the change start - end. */
async function localRound(
  trainer: LocalTrainer,
  model: tf.LayersModel,
  start: Float32Array,
  data: Examples,
  steps: number,
): Promise<Float32Array> {
  const layout = layoutOfModel(model);
  writeFlatWeights(model, layout, start);
  const progress = noProgress();
  await trainer.train(batchesOf(data), progress, {
    batchSize: BATCH,
    more: () => progress.steps < steps,
    between: async () => undefined,
  });
  expect(progress.steps).toBe(steps);
  expect(progress.examples).toBe(steps * BATCH);
  return weightChange(start, await readFlatWeights(model, layout));
}

/** The reference: Keras-style trainOnBatch of a compiled model, one call per batch. */
async function trainOnBatches(model: tf.LayersModel, data: Examples, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { xs, ys } = examplesToTensors(data, i * BATCH, BATCH);
    losses.push((await model.trainOnBatch(xs, ys)) as number);
    tf.dispose([xs, ys]);
  }
  return losses;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** A copy of `weights` moved a little, as another round's global weights would be. */
function nudged(weights: Float32Array, seed: number): Float32Array {
  const random = mulberry32(seed);
  return weights.map((w) => w + (random() - 0.5) * 0.02);
}

describe('LocalTrainer (cnn, wasm)', () => {
  beforeAll(async () => {
    await initNodeTf('wasm');
  });

  it.each(['adam', 'momentum', 'sgd'])(
    '%s: one round of inner steps changes the weights as tf.train on an identical model does',
    async (name) => {
      const steps = 4;
      const data = syntheticExamples(steps * BATCH, 1);
      const model = buildModel('cnn');
      const reference = buildModel('cnn');
      const start = await readFlatWeights(model, layoutOfModel(model));
      writeFlatWeights(reference, layoutOfModel(reference), start);
      reference.compile({ optimizer: innerOptimizer(name, LR), loss: 'categoricalCrossentropy' });
      const trainer = new LocalTrainer(model, name, LR);
      try {
        const change = await localRound(trainer, model, start, data, steps);
        await trainOnBatches(reference, data, steps);
        const expected = weightChange(start, await readFlatWeights(reference, layoutOfModel(reference)));
        // Not a trivial agreement: the weights did move, by far more than the tolerance.
        expect(Math.max(...change.map(Math.abs))).toBeGreaterThan(1e-3);
        expect(maxAbsDiff(change, expected)).toBeLessThan(TOLERANCE);
      } finally {
        trainer.dispose();
        reference.optimizer.dispose();
        model.dispose();
        reference.dispose();
      }
    },
  );

  it("reports each inner step's batch loss before its update, as trainOnBatch does", async () => {
    const steps = 3;
    const data = syntheticExamples(steps * BATCH, 2);
    const model = buildModel('cnn');
    const reference = buildModel('cnn');
    writeFlatWeights(reference, layoutOfModel(reference), await readFlatWeights(model, layoutOfModel(model)));
    reference.compile({ optimizer: tf.train.adam(LR), loss: 'categoricalCrossentropy' });
    const trainer = new LocalTrainer(model, 'adam', LR);
    try {
      const progress = noProgress();
      await trainer.train(batchesOf(data), progress, {
        batchSize: BATCH,
        more: () => progress.steps < steps,
        between: async () => undefined,
      });
      const losses = await trainOnBatches(reference, data, steps);
      expect(progress.lossSum / steps).toBeCloseTo(losses.reduce((a, b) => a + b) / steps, 5);
    } finally {
      trainer.dispose();
      reference.optimizer.dispose();
      model.dispose();
      reference.dispose();
    }
  });

  it("keeps the inner optimizer's state (Adam's moments) from one round to the next", async () => {
    const steps = 3;
    const first = syntheticExamples(steps * BATCH, 3);
    const second = syntheticExamples(steps * BATCH, 4);
    const model = buildModel('cnn');
    const layout = layoutOfModel(model);
    const start1 = await readFlatWeights(model, layout);
    const start2 = nudged(start1, 5);
    // The reference keeps one tf.train.adam across both rounds, the weights replaced in between.
    const reference = buildModel('cnn');
    writeFlatWeights(reference, layout, start1);
    reference.compile({ optimizer: tf.train.adam(LR), loss: 'categoricalCrossentropy' });
    // And a fresh Adam for the second round alone, which must give another change.
    const fresh = buildModel('cnn');
    const freshTrainer = new LocalTrainer(fresh, 'adam', LR);
    const trainer = new LocalTrainer(model, 'adam', LR);
    try {
      await localRound(trainer, model, start1, first, steps);
      const change2 = await localRound(trainer, model, start2, second, steps);

      await trainOnBatches(reference, first, steps);
      writeFlatWeights(reference, layout, start2);
      await trainOnBatches(reference, second, steps);
      const expected = weightChange(start2, await readFlatWeights(reference, layout));
      expect(maxAbsDiff(change2, expected)).toBeLessThan(TOLERANCE);

      const freshChange = await localRound(freshTrainer, fresh, start2, second, steps);
      expect(maxAbsDiff(change2, freshChange)).toBeGreaterThan(100 * TOLERANCE);
    } finally {
      trainer.dispose();
      freshTrainer.dispose();
      reference.optimizer.dispose();
      for (const m of [model, reference, fresh]) m.dispose();
    }
  });

  it('leaks no tensors over several rounds, and none once disposed', async () => {
    const steps = 2;
    const before = tf.memory().numTensors;
    const model = buildModel('cnn');
    const layout = layoutOfModel(model);
    const trainer = new LocalTrainer(model, 'adam', LR);
    let start = await readFlatWeights(model, layout);
    const afterRound: number[] = [];
    for (let round = 0; round < 5; round++) {
      const change = await localRound(
        trainer,
        model,
        start,
        syntheticExamples(steps * BATCH, 10 + round),
        steps,
      );
      start = nudged(
        start.map((w, i) => w - change[i]),
        round,
      );
      afterRound.push(tf.memory().numTensors);
    }
    // The first round creates Adam's moments; from then on the count holds.
    expect(new Set(afterRound).size).toBe(1);
    trainer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the optimizers it has', () => {
    expect(() => innerOptimizer('adagrad', LR)).toThrow(/no inner optimizer "adagrad"/);
  });
});
