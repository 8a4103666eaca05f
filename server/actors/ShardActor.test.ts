import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/random.js';
import type { AggregationRule } from '../aggregation/robustAggregate.js';
import { createUpdateRule, type OptimizerName, type OptimizerState } from '../optimizers/updateRules.js';
import {
  RoundNotPreparedError,
  ShardActor,
  type GradientPiece,
  type OuterStep,
  type ShardActorOptions,
} from './ShardActor.js';
import { LocalShardRef } from './ShardRef.js';
import { accumulate, applyMessage, applyOuterRound, applyRound, prepare } from './testing/shardRounds.js';

const OFFSET = 100;
const LENGTH = 10;

function makeActor(
  optimizer: OptimizerName = 'sgd',
  learningRate = 0.5,
  initial: Float32Array = Float32Array.from({ length: LENGTH }, (_, i) => i + 1),
): ShardActor {
  return new ShardActor({
    index: 2,
    offset: OFFSET,
    initialWeights: initial,
    rule: createUpdateRule(optimizer),
    learningRate,
  });
}

function weightsOf(actor: ShardActor): number[] {
  return Array.from(actor.receive({ type: 'pull' }).weights);
}

/** The actor's private optimizer state: the step counter is only observable through the update. */
function optimizerStateOf(actor: ShardActor): OptimizerState {
  return (actor as unknown as { optimizerState: OptimizerState }).optimizerState;
}

/**
 * The weights as they are right now, bypassing the per-version snapshot: a zero-rate, zero-gradient
 * update publishes a new version without changing any weight.
 */
function liveWeightsOf(actor: ShardActor): number[] {
  actor.receive(applyMessage([piece(OFFSET, new Array(LENGTH).fill(0))], 0));
  return weightsOf(actor);
}

function randomFloats(seed: number, n: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: n }, () => random() * 2 - 1);
}

function piece(offset: number, values: number[] | Float32Array): GradientPiece {
  return { offset, values: Float32Array.from(values) };
}

describe('ShardActor pull', () => {
  it('copies the initial weights', () => {
    const initial = Float32Array.from([1, 2, 3]);
    const actor = makeActor('sgd', 0.5, initial);
    initial[0] = 99;
    expect(weightsOf(actor)).toEqual([1, 2, 3]);
  });

  it('hands out an immutable snapshot: later updates do not change it', () => {
    const actor = makeActor();
    const first = actor.receive({ type: 'pull' });
    expect(first.version).toBe(0);
    const copy = Array.from(first.weights);
    actor.receive(applyMessage([piece(OFFSET, new Array(LENGTH).fill(1))], 1));
    expect(Array.from(first.weights)).toEqual(copy);
    const second = actor.receive({ type: 'pull' });
    expect(second.version).toBe(1);
    expect(second.weights).not.toBe(first.weights);
    expect(Array.from(second.weights)).toEqual(copy.map((w) => w - 0.5));
  });

  it('returns the same snapshot object for every pull of one version', () => {
    const actor = makeActor();
    const a = actor.receive({ type: 'pull' }).weights;
    expect(actor.receive({ type: 'pull' }).weights).toBe(a);
    actor.receive({ type: 'status' });
    expect(actor.receive({ type: 'pull' }).weights).toBe(a);
  });

  it('a snapshot taken after a round is not changed by the next round', () => {
    const actor = makeActor();
    accumulate(actor, 0, [piece(OFFSET, new Array(LENGTH).fill(1))], 1);
    applyRound(actor, 0);
    const snap = actor.receive({ type: 'pull' }).weights;
    const copy = Array.from(snap);
    accumulate(actor, 1, [piece(OFFSET, new Array(LENGTH).fill(1))], 1);
    applyRound(actor, 1);
    expect(Array.from(snap)).toEqual(copy);
  });
});

describe('ShardActor apply (async)', () => {
  it('sgd changes exactly the pieces’ range, by lr x lrScale x g', () => {
    const actor = makeActor('sgd', 0.5);
    const before = weightsOf(actor);
    const reply = actor.receive(applyMessage([piece(OFFSET + 3, [2, 4, -2, 8])], 0.5));
    expect(reply).toEqual({ version: 1 });
    const after = weightsOf(actor);
    const expected = [...before];
    [2, 4, -2, 8].forEach((g, i) => (expected[3 + i] -= 0.25 * g));
    expect(after).toEqual(expected);
  });

  it('the version advances once per message, however many pieces', () => {
    const actor = makeActor('sgd');
    const reply = actor.receive(
      applyMessage([piece(OFFSET, [1]), piece(OFFSET + 5, [1, 1]), piece(OFFSET + 9, [1])], 1),
    );
    expect(reply.version).toBe(1);
    expect(actor.receive({ type: 'pull' }).version).toBe(1);
    expect(actor.receive({ type: 'status' }).version).toBe(1);
    expect(actor.receive(applyMessage([], 1)).version).toBe(2);
  });

  it('a multi-piece adam apply is ONE optimizer step: equal to one piece over the same floats', () => {
    const initial = randomFloats(1, LENGTH);
    const split = makeActor('adam', 0.01, initial);
    const whole = makeActor('adam', 0.01, initial);
    const separate = makeActor('adam', 0.01, initial);
    for (let step = 0; step < 3; step++) {
      const g = randomFloats(10 + step, LENGTH);
      split.receive({
        type: 'apply',
        pushId: `split-${step}`,
        // Out of order on purpose: the pieces of one message share one step whatever their order.
        pieces: [
          piece(OFFSET + 6, g.subarray(6)),
          piece(OFFSET, g.subarray(0, 2)),
          piece(OFFSET + 2, g.subarray(2, 6)),
        ],
        lrScale: 1,
      });
      whole.receive(applyMessage([piece(OFFSET, g)], 1));
      separate.receive(applyMessage([piece(OFFSET, g.subarray(0, 5))], 1));
      separate.receive(applyMessage([piece(OFFSET + 5, g.subarray(5))], 1));
    }
    expect(optimizerStateOf(split).step).toBe(3);
    expect(optimizerStateOf(whole).step).toBe(3);
    expect(weightsOf(split)).toEqual(weightsOf(whole));
    // Two messages are two steps: the bias correction differs, which is what the test must detect.
    expect(optimizerStateOf(separate).step).toBe(6);
    expect(weightsOf(separate)).not.toEqual(weightsOf(whole));
  });

  it.each(['sgd', 'momentum', 'adam'] as const)(
    '%s: a piece outside the shard throws RangeError and changes nothing',
    (optimizer) => {
      for (const bad of [
        piece(OFFSET - 1, [1]),
        piece(OFFSET + LENGTH, [1]),
        piece(OFFSET + LENGTH - 2, [1, 1, 1]),
        piece(0, [1]),
      ]) {
        const actor = makeActor(optimizer);
        const before = actor.receive({ type: 'status' });
        expect(() => actor.receive(applyMessage([bad], 1))).toThrow(RangeError);
        expect(actor.receive({ type: 'status' })).toEqual(before);
        expect(optimizerStateOf(actor).step).toBe(0);
        expect(liveWeightsOf(actor)).toEqual(Array.from({ length: LENGTH }, (_, i) => i + 1));
      }
    },
  );

  // Regression: pieces before a bad one used to be written before the throw, invisibly (the version,
  // snapshot and checksum stayed those of the untouched weights).
  it('a bad piece after good ones throws and leaves the weights untouched', () => {
    const actor = makeActor('sgd');
    const before = weightsOf(actor);
    expect(() =>
      actor.receive(applyMessage([piece(OFFSET, [1, 1, 1]), piece(OFFSET + LENGTH, [1])], 1)),
    ).toThrow(RangeError);
    expect(liveWeightsOf(actor)).toEqual(before);
  });

  it('after a refused multi-piece apply, pull and status agree with the weights', () => {
    const actor = makeActor('sgd');
    const status = actor.receive({ type: 'status' });
    const pulled = actor.receive({ type: 'pull' });
    expect(() => actor.receive(applyMessage([piece(OFFSET, [1, 1, 1]), piece(OFFSET - 1, [1])], 1))).toThrow(
      RangeError,
    );
    // Whatever the weights are now, a pull of this version and the checksum must describe them.
    const after = actor.receive({ type: 'status' });
    expect(after.version).toBe(status.version);
    expect(Array.from(actor.receive({ type: 'pull' }).weights)).toEqual(liveWeightsOf(actor));
    expect(Array.from(pulled.weights)).toEqual(liveWeightsOf(actor));
  });
});

describe('ShardActor accumulate + applyRound (sync)', () => {
  it('weights each gradient by its batch size: the mean is per example, the lr scales by the count', () => {
    const actor = makeActor('sgd', 0.1, new Float32Array(LENGTH));
    accumulate(actor, 0, [piece(OFFSET, new Array(LENGTH).fill(1))], 30);
    accumulate(actor, 0, [piece(OFFSET, new Array(LENGTH).fill(4))], 10);
    expect(applyRound(actor, 0).count).toBe(2);
    // mean = (30*1 + 10*4) / 40 = 1.75; step = lr x 2 x 1.75 = 0.35
    weightsOf(actor).forEach((w) => expect(w).toBeCloseTo(-0.35, 6));
  });

  it('refuses a non-positive weight before touching the sum', () => {
    const actor = makeActor('sgd', 1, new Float32Array(LENGTH));
    expect(() => accumulate(actor, 0, [piece(OFFSET, [1])], 0)).toThrow(RangeError);
    expect(applyRound(actor, 0).count).toBe(0);
  });

  it('applies the mean with lr x count: sgd, by hand', () => {
    const actor = makeActor('sgd', 0.25, Float32Array.from([1, 2, 3, 4]));
    // Four workers, each gradient in two pieces.
    const grads = [
      [1, 0, 2, 4],
      [3, 0, -2, 4],
      [0, 8, 0, 4],
      [4, 0, 0, 4],
    ];
    grads.forEach((g, i) => {
      const reply = accumulate(actor, 7, [piece(OFFSET, g.slice(0, 1)), piece(OFFSET + 1, g.slice(1))], 1);
      expect(reply).toEqual({ round: 7, count: i + 1 });
    });
    // Nothing applied yet.
    expect(weightsOf(actor)).toEqual([1, 2, 3, 4]);
    expect(actor.receive({ type: 'pull' }).version).toBe(0);
    const reply = applyRound(actor, 7);
    expect(reply).toEqual({ version: 1, count: 4 });
    // mean = [2, 2, 0, 4]; lr x count = 1; w - 1 x mean.
    expect(weightsOf(actor)).toEqual([-1, 0, 3, 0]);
  });

  it('three gradients: w - lr x 3 x mean = w - lr x sum', () => {
    const actor = makeActor('sgd', 0.1, Float32Array.from([1, 1]));
    for (const g of [
      [0.3, 1],
      [0.6, 2],
      [0.9, 3],
    ]) {
      accumulate(actor, 0, [piece(OFFSET, g)], 1);
    }
    applyRound(actor, 0);
    const [a, b] = weightsOf(actor);
    expect(a).toBeCloseTo(1 - 0.1 * 1.8, 6);
    expect(b).toBeCloseTo(1 - 0.1 * 6, 6);
  });

  it('applyRound is one optimizer step however many gradients', () => {
    const actor = makeActor('adam');
    for (let w = 0; w < 3; w++) {
      accumulate(actor, 0, [piece(OFFSET, randomFloats(w, LENGTH))], 1);
    }
    applyRound(actor, 0);
    expect(optimizerStateOf(actor).step).toBe(1);
  });

  it('applyRound of a round that is not prepared is refused and changes nothing', () => {
    const actor = makeActor('sgd');
    const before = actor.receive({ type: 'status' });
    expect(() => actor.receive({ type: 'applyRound', round: 0 })).toThrow(RoundNotPreparedError);
    accumulate(actor, 3, [piece(OFFSET, new Array(LENGTH).fill(1))], 1);
    expect(() => actor.receive({ type: 'applyRound', round: 2 })).toThrow(RoundNotPreparedError);
    // Round 3 holds a gradient but was never prepared.
    expect(() => actor.receive({ type: 'applyRound', round: 3 })).toThrow(
      'shard 2: round 3 is not prepared (prepareRound was not ready); nothing was applied',
    );
    expect(actor.receive({ type: 'status' })).toEqual(before);
    expect(applyRound(actor, 3)).toEqual({ version: 1, count: 1 });
    const after = actor.receive({ type: 'status' });
    // Applied once: a second applyRound finds no prepared round.
    expect(() => actor.receive({ type: 'applyRound', round: 3 })).toThrow(RoundNotPreparedError);
    expect(actor.receive({ type: 'status' })).toEqual(after);
    // A round no gradient reached, prepared empty, is a no-op.
    expect(applyRound(actor, 4)).toEqual({ version: 1, count: 0 });
    expect(actor.receive({ type: 'status' })).toEqual(after);
  });

  it('the next round starts from a zero sum', () => {
    const actor = makeActor('sgd', 1, new Float32Array(2));
    accumulate(actor, 0, [piece(OFFSET, [5, 5])], 1);
    applyRound(actor, 0);
    accumulate(actor, 1, [piece(OFFSET + 1, [1])], 1);
    applyRound(actor, 1);
    expect(weightsOf(actor)).toEqual([-5, -6]);
  });

  it('an accumulate outside the shard throws RangeError', () => {
    const actor = makeActor('sgd');
    expect(() => accumulate(actor, 0, [piece(OFFSET + LENGTH - 1, [1, 1])], 1)).toThrow(RangeError);
    expect(applyRound(actor, 0).count).toBe(0);
  });

  // Regression: like `apply`, `accumulate` used to add the pieces before a bad one into the round's sum.
  it('a refused accumulate leaves nothing in the round’s sum', () => {
    const actor = makeActor('sgd', 1, new Float32Array(LENGTH));
    accumulate(actor, 0, [piece(OFFSET, new Array(LENGTH).fill(1))], 1);
    expect(() =>
      accumulate(actor, 0, [piece(OFFSET, new Array(LENGTH).fill(100)), piece(OFFSET + LENGTH, [1])], 1),
    ).toThrow(RangeError);
    expect(applyRound(actor, 0).count).toBe(1);
    expect(weightsOf(actor)).toEqual(new Array(LENGTH).fill(-1));
  });
});

describe('ShardActor status', () => {
  const sha1 = (floats: number[]) =>
    createHash('sha1')
      .update(new Uint8Array(Float32Array.from(floats).buffer))
      .digest('hex');

  it('reports index, offset, length, version and the sha1 of the weights', () => {
    const actor = makeActor();
    expect(actor.receive({ type: 'status' })).toEqual({
      index: 2,
      offset: OFFSET,
      length: LENGTH,
      version: 0,
      checksum: sha1(weightsOf(actor)),
    });
  });

  it('the checksum changes iff the weights change', () => {
    const actor = makeActor('sgd');
    const c0 = actor.receive({ type: 'status' }).checksum;
    // A zero gradient bumps the version but leaves the weights: same checksum.
    actor.receive(applyMessage([piece(OFFSET, new Array(LENGTH).fill(0))], 1));
    const s1 = actor.receive({ type: 'status' });
    expect(s1.version).toBe(1);
    expect(s1.checksum).toBe(c0);
    actor.receive(applyMessage([piece(OFFSET + 9, [1])], 1));
    const c2 = actor.receive({ type: 'status' }).checksum;
    expect(c2).not.toBe(c0);
    expect(c2).toBe(sha1(weightsOf(actor)));
    // An empty round changes nothing.
    applyRound(actor, 5);
    expect(actor.receive({ type: 'status' }).checksum).toBe(c2);
    // Undoing the update restores the checksum.
    actor.receive(applyMessage([piece(OFFSET + 9, [-1])], 1));
    expect(actor.receive({ type: 'status' }).checksum).toBe(c0);
  });
});

describe('LocalShardRef', () => {
  it('answers with the actor’s reply', async () => {
    const ref = new LocalShardRef(makeActor());
    expect(ref.index).toBe(2);
    await expect(ref.ask({ type: 'pull' })).resolves.toMatchObject({ version: 0 });
  });

  it('turns an actor exception into a rejection, not a synchronous throw', async () => {
    const ref = new LocalShardRef(makeActor());
    let promise: Promise<unknown> | undefined;
    expect(() => {
      promise = ref.ask(applyMessage([piece(0, [1])], 1));
    }).not.toThrow();
    await expect(promise).rejects.toBeInstanceOf(RangeError);
  });
});

describe('ShardActor reset', () => {
  it('takes the fresh weights, forgets the optimizer state, and moves on to a new version', () => {
    const actor = makeActor('adam', 0.1);
    const fresh = makeActor('adam', 0.1);
    const g = Array.from({ length: LENGTH }, (_, i) => i - 4);
    actor.receive(applyMessage([piece(OFFSET, g)], 1));
    actor.receive(applyMessage([piece(OFFSET, g)], 1));
    const initial = Float32Array.from({ length: LENGTH }, (_, i) => i + 1);
    expect(actor.receive({ type: 'reset', weights: initial })).toEqual({ version: 3 });
    expect(weightsOf(actor)).toEqual(Array.from(initial));
    expect(optimizerStateOf(actor).step).toBe(0);
    // From here it moves exactly as an actor that never trained.
    actor.receive(applyMessage([piece(OFFSET, g)], 1));
    fresh.receive(applyMessage([piece(OFFSET, g)], 1));
    expect(weightsOf(actor)).toEqual(weightsOf(fresh));
    expect(() => actor.receive({ type: 'reset', weights: new Float32Array(3) })).toThrow(RangeError);
  });
});

describe('ShardActor applyOuterRound (local)', () => {
  const START = [1, 2, -1, 0.5];
  /** lr and momentum 1/2 with dyadic changes: every float32 intermediate is exact (outerOptimizers.test.ts). */
  const HALVES: OuterStep = { optimizer: 'nesterov', lr: 0.5, momentum: 0.5 };
  const DILOCO: OuterStep = { optimizer: 'nesterov', lr: 0.7, momentum: 0.9 };

  function localActor(
    options: { aggregation?: AggregationRule; optimizer?: OptimizerName; initial?: Float32Array } = {},
  ): ShardActor {
    return new ShardActor({
      index: 2,
      offset: OFFSET,
      initialWeights: options.initial ?? Float32Array.from(START),
      rule: createUpdateRule(options.optimizer ?? 'sgd'),
      learningRate: 0.1,
      aggregation: options.aggregation,
    });
  }

  /** One round: each worker's change (start minus end) with the examples behind it, then the outer step. */
  function outerRound(
    actor: ShardActor,
    round: number,
    changes: readonly { values: number[] | Float32Array; weight: number }[],
    outer: OuterStep,
  ) {
    for (const { values, weight } of changes) accumulate(actor, round, [piece(OFFSET, values)], weight);
    return applyOuterRound(actor, round, outer);
  }

  function outerMomentumOf(actor: ShardActor): number[] | undefined {
    const saved = actor.receive({ type: 'checkpoint' }).outerMomentum;
    return saved && Array.from(saved);
  }

  function bytesOf(values: Float32Array): Buffer {
    return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  }

  it('nesterov over two rounds of weighted-mean changes: the hand computation', () => {
    const actor = localActor();
    // Round 1: mean of [1, -1, 0.5, 0] and [0, -1, 0, 4] (weights 1, 1) = d1 = [0.5, -1, 0.25, 2];
    // acc = d1; w -= 0.5 * (d1 + 0.5 * d1) = 0.75 * d1.
    const first = outerRound(
      actor,
      0,
      [
        { values: [1, -1, 0.5, 0], weight: 1 },
        { values: [0, -1, 0, 4], weight: 1 },
      ],
      HALVES,
    );
    expect(first).toEqual({ version: 1, count: 2, changeNorm: Math.sqrt(0.25 + 1 + 0.0625 + 4) });
    expect(weightsOf(actor)).toEqual([0.625, 2.75, -1.1875, -1]);
    expect(outerMomentumOf(actor)).toEqual([0.5, -1, 0.25, 2]);
    // Round 2: (3 * [2, 0, -1, 0] + 1 * [-2, 2, 1, 0]) / 4 = d2 = [1, 0.5, -0.5, 0];
    // acc = 0.5 * d1 + d2 = [1.25, 0, -0.375, 1]; w -= 0.5 * (d2 + 0.5 * acc) = [0.8125, 0.25, -0.34375, 0.25].
    const second = outerRound(
      actor,
      1,
      [
        { values: [2, 0, -1, 0], weight: 3 },
        { values: [-2, 2, 1, 0], weight: 1 },
      ],
      HALVES,
    );
    expect(second).toEqual({ version: 2, count: 2, changeNorm: Math.sqrt(1 + 0.25 + 0.25) });
    expect(weightsOf(actor)).toEqual([-0.1875, 2.5, -0.84375, -1.25]);
    expect(outerMomentumOf(actor)).toEqual([1.25, 0, -0.375, 1]);
  });

  it('average: the weights become the workers’ mean end point', () => {
    const actor = localActor();
    const ends = [
      [0, 3, -1.5, 0.5],
      [1, 3, -1, -3.5],
    ];
    const reply = outerRound(
      actor,
      0,
      ends.map((end) => ({ values: START.map((s, i) => s - end[i]), weight: 1 })),
      { optimizer: 'average' },
    );
    expect(reply.count).toBe(2);
    expect(weightsOf(actor)).toEqual(START.map((_, i) => (ends[0][i] + ends[1][i]) / 2));
    // average keeps no momentum.
    expect(outerMomentumOf(actor)).toBeUndefined();
  });

  it('median: an outlying change is out-voted coordinate by coordinate', () => {
    const actor = localActor({ aggregation: 'median' });
    const reply = outerRound(
      actor,
      0,
      [
        { values: [0.5, -1, 0.25, 2], weight: 1 },
        { values: [0.25, -1, 0.25, 1], weight: 1 },
        { values: [1000, 1000, -1000, 1000], weight: 50 },
      ],
      { optimizer: 'average' },
    );
    // Median per coordinate = [0.5, -1, 0.25, 2] (weights do not count for the median).
    expect(reply).toEqual({ version: 1, count: 3, changeNorm: Math.sqrt(0.25 + 1 + 0.0625 + 4) });
    expect(weightsOf(actor)).toEqual([0.5, 3, -1.25, -1.5]);
  });

  it('leaves the inner optimizer’s state alone', () => {
    const actor = localActor({ optimizer: 'adam' });
    outerRound(actor, 0, [{ values: [1, 1, 1, 1], weight: 1 }], DILOCO);
    const state = actor.receive({ type: 'checkpoint' }).optimizerState;
    expect(state.step).toBe(0);
    for (const slot of state.slots) expect(Array.from(slot)).toEqual([0, 0, 0, 0]);
  });

  it('applyOuterRound of a round that is not prepared is refused; an empty prepared round is a no-op', () => {
    const actor = localActor();
    const before = actor.receive({ type: 'status' });
    expect(applyOuterRound(actor, 0, DILOCO)).toEqual({ version: 0, count: 0, changeNorm: 0 });
    accumulate(actor, 3, [piece(OFFSET, [1, 1, 1, 1])], 1);
    expect(() => actor.receive({ type: 'applyOuterRound', round: 2, outer: DILOCO })).toThrow(
      RoundNotPreparedError,
    );
    expect(() => actor.receive({ type: 'applyOuterRound', round: 3, outer: DILOCO })).toThrow(
      RoundNotPreparedError,
    );
    expect(actor.receive({ type: 'status' })).toEqual(before);
    expect(outerMomentumOf(actor)).toBeUndefined();
    expect(applyOuterRound(actor, 3, DILOCO)).toMatchObject({ version: 1, count: 1 });
    expect(() => actor.receive({ type: 'applyOuterRound', round: 3, outer: DILOCO })).toThrow(
      RoundNotPreparedError,
    );
    expect(actor.receive({ type: 'status' }).version).toBe(1);
  });

  it('refuses a bad outer step before combining the round, which then applies once', () => {
    const actor = localActor();
    accumulate(actor, 0, [piece(OFFSET, [1, 1, 1, 1])], 2);
    accumulate(actor, 0, [piece(OFFSET, [3, 3, 3, 3])], 2);
    expect(prepare(actor, 0)).toEqual({ round: 0, ready: true, have: 2 });
    expect(() =>
      actor.receive({
        type: 'applyOuterRound',
        round: 0,
        outer: { optimizer: 'nesterov', lr: 0.7, momentum: 1 },
      }),
    ).toThrow(RangeError);
    expect(actor.receive({ type: 'pull' }).version).toBe(0);
    // The mean is still (2 * 1 + 2 * 3) / 4 = 2, not halved again.
    expect(actor.receive({ type: 'applyOuterRound', round: 0, outer: { optimizer: 'average' } }).count).toBe(
      2,
    );
    expect(weightsOf(actor)).toEqual(START.map((s) => s - 2));
  });

  it('checkpoint and restore: the next outer round is bit-identical to an actor that never stopped', () => {
    const initial = randomFloats(7, LENGTH);
    const changes = (round: number) =>
      [0, 1, 2].map((w) => ({ values: randomFloats(100 * round + w, LENGTH), weight: w + 1 }));
    const running = localActor({ optimizer: 'adam', initial });
    for (let round = 0; round < 3; round++) outerRound(running, round, changes(round), DILOCO);

    const saved = running.receive({ type: 'checkpoint' });
    expect(saved.outerMomentum).toHaveLength(LENGTH);
    const make = (restore: ShardActorOptions['restore']) =>
      new ShardActor({
        index: 2,
        offset: OFFSET,
        initialWeights: saved.weights,
        rule: createUpdateRule('adam'),
        learningRate: 0.1,
        restore,
      });
    const resumed = make(saved);
    // The control: the same checkpoint without its outer momentum.
    const { outerMomentum: _momentum, ...withoutMomentum } = saved;
    const forgetful = make(withoutMomentum);
    expect(resumed.receive({ type: 'status' })).toEqual(running.receive({ type: 'status' }));

    for (let round = 3; round < 5; round++) {
      const replies = [running, resumed, forgetful].map((actor) =>
        outerRound(actor, round, changes(round), DILOCO),
      );
      expect(replies[1]).toEqual(replies[0]);
    }
    const runningWeights = running.receive({ type: 'pull' }).weights;
    expect(bytesOf(resumed.receive({ type: 'pull' }).weights).equals(bytesOf(runningWeights))).toBe(true);
    expect(bytesOf(forgetful.receive({ type: 'pull' }).weights).equals(bytesOf(runningWeights))).toBe(false);
    // The checkpoint was a copy: the running actor's rounds since did not write into it.
    expect(
      bytesOf(saved.outerMomentum!).equals(bytesOf(running.receive({ type: 'checkpoint' }).outerMomentum!)),
    ).toBe(false);
  });

  it('restore refuses an outer momentum of another length', () => {
    expect(
      () =>
        new ShardActor({
          index: 2,
          offset: OFFSET,
          initialWeights: new Float32Array(LENGTH),
          rule: createUpdateRule('sgd'),
          learningRate: 0.1,
          restore: {
            version: 3,
            optimizerState: { step: 0, slots: [] },
            outerMomentum: new Float32Array(LENGTH - 1),
          },
        }),
    ).toThrow(RangeError);
  });

  it('reset zeroes the outer momentum: the next round moves as on a fresh actor', () => {
    const actor = localActor();
    const fresh = localActor();
    outerRound(actor, 0, [{ values: [1, -1, 0.5, 0.25], weight: 1 }], DILOCO);
    expect(outerMomentumOf(actor)).not.toEqual([0, 0, 0, 0]);
    actor.receive({ type: 'reset', weights: Float32Array.from(START) });
    expect(outerMomentumOf(actor)).toEqual([0, 0, 0, 0]);
    const change = [{ values: [0.5, 0.5, -0.25, 1], weight: 1 }];
    outerRound(actor, 1, change, DILOCO);
    outerRound(fresh, 1, change, DILOCO);
    expect(weightsOf(actor)).toEqual(weightsOf(fresh));
    expect(outerMomentumOf(actor)).toEqual(outerMomentumOf(fresh));
  });
});
