import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { initNodeTf } from '../server/tf/initNodeTf.js';
import type { Examples } from './examplesCodec.js';
import { examplesToTensors } from './examplesTensors.js';
import { GradientWorker, type StepReport } from './GradientWorker.js';
import {
  HubRequestError,
  type HubClient,
  type PulledWeights,
  type PushInput,
  type PushOutcome,
} from './HubClient.js';
import { layoutOfModel } from './layout.js';
import { buildModel, IMAGE_PIXELS, NUM_CLASSES } from './models.js';
import type { LocalRoundPlan, RunConfig, WorkUnit } from './protocol.js';
import { mulberry32 } from './random.js';
import { readFlatWeights, writeFlatWeights } from './training.js';

const BATCH = 8;
/** Four batches a unit: a round of STEPS inner steps crosses unit boundaries. */
const UNIT = 4 * BATCH;
const STEPS = 6;
const LR = 0.01;

function syntheticExamples(count: number, seed: number): Examples {
  const random = mulberry32(seed);
  const images = new Uint8Array(count * IMAGE_PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(random() * 256);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = Math.floor(random() * NUM_CLASSES);
  return { count, images, labels };
}

/** Unit n's examples: the same for the worker and for the reference below. */
const unitExamples = (unitId: number) => syntheticExamples(UNIT, 100 + unitId);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A hub in local mode for one worker, in memory, standing in for HubClient: each round hands out its
 * weights with `plan`; an accepted change is applied as FedAvg of one worker (outer lr 1: weights -=
 * change) and opens the next round. A change's push is answered once the worker has taken
 * `overlapSteps` more inner steps (counted by the worker's yields), so the overlap happens however
 * fast this machine is.
 */
class FakeLocalHub {
  readonly config: RunConfig;
  readonly sessionId = 0;
  weights: Float32Array;
  round = 0;
  version = 0;
  readonly pushes: PushInput[] = [];
  readonly completed: number[] = [];
  /** Rounds whose change is refused, and the code (STALE_ROUND: the round closed without it). */
  readonly refuseRounds = new Map<number, string>();
  /** From this round on the pulls carry no plan: the run switched to async mode. */
  asyncFromRound = Infinity;
  overlapSteps = 2;
  /** Inner steps (and gradient steps) the worker has taken: its yields between steps. */
  yields = 0;
  private leased = 0;

  constructor(
    readonly plan: LocalRoundPlan,
    start: Float32Array,
  ) {
    this.weights = start.slice();
    const model = buildModel('cnn');
    const layout = layoutOfModel(model);
    model.dispose();
    this.config = {
      mode: 'local',
      model: 'cnn',
      params: layout.totalLength,
      layout: layout.tensors.map(({ name, shape }) => ({ name, shape })),
      shards: [{ index: 0, offset: 0, length: layout.totalLength }],
      batchSize: BATCH,
      optimizer: 'adam',
      learningRate: LR,
      roundTimeoutMs: 5_000,
      compress: 'none',
      compressChanges: 'fp16',
      knownAnswer: false,
    };
  }

  asClient(): HubClient {
    return this as unknown as HubClient;
  }

  async pull(): Promise<PulledWeights> {
    await sleep(2);
    const local = this.round < this.asyncFromRound ? this.plan : undefined;
    return {
      weights: this.weights.slice(),
      versions: [this.version],
      globalStep: this.version,
      round: this.round,
      local,
    };
  }

  async push(input: PushInput): Promise<PushOutcome> {
    const until = this.yields + (input.localSteps === undefined ? 0 : this.overlapSteps);
    // Bounded: a worker whose round time is up trains on only until the plan's steps.
    for (let waited = 0; this.yields < until && waited < 5_000; waited++) await sleep(1);
    this.pushes.push(input);
    const refusal = input.localSteps === undefined ? undefined : this.refuseRounds.get(input.round ?? -1);
    if (refusal !== undefined) {
      this.round++;
      throw new HubRequestError(refusal, `round ${input.round} went on without this change`);
    }
    const scale = input.localSteps === undefined ? LR : 1;
    for (let i = 0; i < this.weights.length; i++) this.weights[i] -= scale * input.gradient[i];
    this.round++;
    this.version++;
    return { pushId: `fake-${this.version}`, globalStep: this.version, staleness: 0 };
  }

  async leaseUnit(): Promise<WorkUnit> {
    const unitId = this.leased++;
    return { unitId, start: unitId * UNIT, count: UNIT, epoch: 0, url: `/units/${unitId}` };
  }

  async fetchExamples(unit: WorkUnit): Promise<Examples> {
    return unitExamples(unit.unitId);
  }

  async completeUnit(unitId: number): Promise<number> {
    this.completed.push(unitId);
    return 0;
  }
}

/** What one worker run against `hub` reported. */
async function runWorker(hub: FakeLocalHub, maxSteps: number) {
  const reports: StepReport[] = [];
  const tensors: number[] = [];
  const refused: string[] = [];
  const worker = new GradientWorker({
    client: hub.asClient(),
    maxSteps,
    onStep: (report) => {
      reports.push(report);
      tensors.push(tf.memory().numTensors);
    },
    onRefused: (error) => refused.push(error.code),
    yieldBetweenSteps: () => {
      hub.yields++;
      return new Promise((resolve) => setImmediate(resolve));
    },
  });
  const summary = await worker.run();
  return { summary, reports, tensors, refused };
}

async function initialWeights(): Promise<Float32Array> {
  const model = buildModel('cnn');
  const weights = await readFlatWeights(model, layoutOfModel(model));
  model.dispose();
  return weights;
}

/** `steps` Adam steps on the units' batches in order, from `start`: one worker training alone. */
async function trainedAlone(start: Float32Array, steps: number): Promise<Float32Array> {
  const model = buildModel('cnn');
  const layout = layoutOfModel(model);
  writeFlatWeights(model, layout, start);
  model.compile({ optimizer: tf.train.adam(LR), loss: 'categoricalCrossentropy' });
  for (let step = 0; step < steps; step++) {
    const unit = Math.floor((step * BATCH) / UNIT);
    const { xs, ys } = examplesToTensors(unitExamples(unit), (step * BATCH) % UNIT, BATCH);
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
  }
  const weights = await readFlatWeights(model, layout);
  model.optimizer.dispose();
  model.dispose();
  return weights;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('GradientWorker in local mode (cnn, wasm, an in-memory hub)', () => {
  beforeAll(async () => {
    await initNodeTf('wasm');
  });

  it('trains through the exchanges and merges: one worker under FedAvg follows training alone exactly', async () => {
    const start = await initialWeights();
    const hub = new FakeLocalHub({ steps: STEPS }, start);
    const before = tf.memory().numTensors;
    const { summary, reports, tensors } = await runWorker(hub, 5);

    expect(summary.steps).toBe(5);
    expect(hub.pushes).toHaveLength(5);
    for (const [i, push] of hub.pushes.entries()) {
      expect(push.round).toBe(i);
      expect(push.versions).toEqual([i]);
      expect(push.localSteps).toBeGreaterThanOrEqual(1);
      expect(push.localSteps).toBeLessThanOrEqual(STEPS);
      expect(push.examples).toBe((push.localSteps ?? 0) * BATCH);
      expect(push.gradient).toHaveLength(hub.config.params);
      expect(Number.isFinite(push.loss)).toBe(true);
    }
    // The first round has nothing to overlap; later ones trained while the change was on its way.
    expect(hub.pushes[0].localSteps).toBe(STEPS);
    expect(reports[0].overlapSteps).toBe(0);
    for (const report of reports.slice(1))
      expect(report.overlapSteps).toBeGreaterThanOrEqual(hub.overlapSteps);
    expect(reports.map((r) => r.round)).toEqual([0, 1, 2, 3, 4]);
    expect(reports.map((r) => r.steps)).toEqual([1, 2, 3, 4, 5]);
    expect(reports.every((r) => (r.changeNorm ?? 0) > 0)).toBe(true);
    expect(reports.at(-1)?.examples).toBe(hub.pushes.reduce((sum, p) => sum + p.examples, 0));
    expect(summary.examples).toBe(reports.at(-1)?.examples);

    // No step lost, none counted twice: the hub's weights are those of the counted steps trained alone.
    const counted = hub.pushes.reduce((sum, p) => sum + (p.localSteps ?? 0), 0);
    const alone = await trainedAlone(start, counted);
    expect(maxAbsDiff(hub.weights, alone)).toBeLessThan(1e-5);
    // ... and that is no accident of tiny steps: they moved the weights by far more.
    expect(maxAbsDiff(hub.weights, start)).toBeGreaterThan(1e-2);

    // Finished units were completed; nothing leaked, during the run or after it.
    expect(hub.completed.length).toBeGreaterThanOrEqual(Math.floor((counted * BATCH) / UNIT) - 1);
    expect(new Set(tensors).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('drops the drift after a refused change and starts again from the next round', async () => {
    const hub = new FakeLocalHub({ steps: STEPS }, await initialWeights());
    hub.refuseRounds.set(1, 'STALE_ROUND');
    const { summary, reports, refused } = await runWorker(hub, 3);

    expect(refused).toEqual(['STALE_ROUND']);
    expect(summary.refused).toBe(1);
    expect(hub.pushes.map((p) => p.round)).toEqual([0, 1, 2, 3]);
    // Round 2 starts from the hub's weights, without what was trained while round 1 was on its way.
    expect(reports.map((r) => r.round)).toEqual([0, 2, 3]);
    expect(reports[1].overlapSteps).toBe(0);
    expect(hub.pushes[2].localSteps).toBe(STEPS);
  });

  it('pushes gradients again when the next pull carries no plan (the run left local mode)', async () => {
    const hub = new FakeLocalHub({ steps: STEPS }, await initialWeights());
    hub.asyncFromRound = 2;
    const before = tf.memory().numTensors;
    const { summary } = await runWorker(hub, 4);

    expect(summary.steps).toBe(4);
    expect(hub.pushes.map((p) => p.localSteps !== undefined)).toEqual([true, true, false, false]);
    expect(hub.pushes.slice(2).map((p) => p.examples)).toEqual([BATCH, BATCH]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('pulls again after a change refused WRONG_UPDATE_KIND (an admin switched to async) and pushes gradients', async () => {
    const hub = new FakeLocalHub({ steps: STEPS }, await initialWeights());
    hub.refuseRounds.set(1, 'WRONG_UPDATE_KIND');
    hub.asyncFromRound = 2;
    const { summary, refused } = await runWorker(hub, 3);

    expect(refused).toEqual(['WRONG_UPDATE_KIND']);
    expect(hub.pushes.map((p) => p.localSteps !== undefined)).toEqual([true, true, false, false]);
    expect(summary.steps).toBe(3);
  });

  it('ends a round when its training time is up, with however many steps fit', async () => {
    const hub = new FakeLocalHub({ steps: 100_000, trainMs: 60 }, await initialWeights());
    const began = performance.now();
    await runWorker(hub, 2);

    expect(performance.now() - began).toBeLessThan(10_000);
    for (const push of hub.pushes) {
      expect(push.localSteps).toBeGreaterThanOrEqual(1);
      expect(push.localSteps).toBeLessThan(100_000);
    }
  });
});
