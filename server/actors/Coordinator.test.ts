import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, HubError } from '../../shared/errors.js';
import { layoutFromShapes, shardRanges } from '../../shared/layout.js';
import type { TrainingMode } from '../../shared/protocol.js';
import { mulberry32, UnitPool, type LeasedUnit } from '../data/UnitPool.js';
import { resolveSelection, splitByShard } from '../gateway/selection.js';
import { createUpdateRule } from '../optimizers/updateRules.js';
import { Coordinator, type GradientPush, type PushResult } from './Coordinator.js';
import { ShardActor, type ShardMessage, type ShardReply } from './ShardActor.js';
import { LocalShardRef, type ShardRef } from './ShardRef.js';

const TOTAL = 12;
const SHARDS = 3;
const TIMEOUT_MS = 1000;
const UNIT_OPTIONS = { totalExamples: 95, unitSize: 10, seed: 7 };

const layout = layoutFromShapes([{ name: 'w', shape: [TOTAL] }]);
const ranges = shardRanges(TOTAL, SHARDS);
const everything = resolveSelection({}, layout, ranges);

/** A shard ref that runs each message on a later macrotask, in order: a shard in another process. */
class RemoteShardRef implements ShardRef {
  constructor(private readonly actor: ShardActor) {}

  get index(): number {
    return this.actor.index;
  }

  ask<M extends ShardMessage>(message: M): Promise<ShardReply<M>> {
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(this.actor.receive(message));
        } catch (error) {
          reject(error);
        }
      }),
    );
  }
}

interface Hub {
  readonly coordinator: Coordinator;
  readonly actors: ShardActor[];
  readonly units: UnitPool;
}

/**
 * Real shard actors (sgd, learning rate 1, zero initial weights) behind LocalShardRef and a real
 * UnitPool. With sgd and rate 1 the weights are always minus the sum of the applied gradients, in
 * both modes (sync applies mean x count).
 */
function makeHub(mode: TrainingMode, remote = false): Hub {
  const actors = ranges.map(
    (r) =>
      new ShardActor({
        index: r.index,
        offset: r.offset,
        initialWeights: new Float32Array(r.length),
        rule: createUpdateRule('sgd'),
        learningRate: 1,
      }),
  );
  const units = new UnitPool(UNIT_OPTIONS);
  const coordinator = new Coordinator({
    mode,
    shards: actors.map((a) => (remote ? new RemoteShardRef(a) : new LocalShardRef(a))),
    units,
    roundTimeoutMs: TIMEOUT_MS,
  });
  return { coordinator, actors, units };
}

function weightsOf(hub: Hub): number[] {
  return hub.actors.flatMap((a) => Array.from(a.receive({ type: 'pull' }).weights));
}

function versionsOf(hub: Hub): number[] {
  return hub.actors.map((a) => a.receive({ type: 'status' }).version);
}

function gradient(seed: number): Float32Array {
  // Small integers: sums are exact in float32, so weights can be compared with toEqual.
  const random = mulberry32(seed);
  return Float32Array.from({ length: TOTAL }, () => Math.floor(random() * 7) - 3);
}

let pushCounter = 0;

function push(
  g: Float32Array,
  options: {
    round?: number;
    examples?: number;
    loss?: number;
    versions?: number[];
    shards?: number[];
    pushId?: string;
  } = {},
): GradientPush {
  const selection = options.shards
    ? resolveSelection({ shards: options.shards }, layout, ranges)
    : everything;
  let payload = g;
  if (options.shards)
    payload = Float32Array.from(
      selection.ranges.flatMap((r) => [...g.subarray(r.offset, r.offset + r.length)]),
    );
  return {
    piecesByShard: splitByShard(selection, payload, ranges),
    versions: options.versions ?? ranges.map(() => 0),
    round: options.round,
    examples: options.examples ?? 10,
    loss: options.loss ?? 1,
    pushId: options.pushId ?? `push-${++pushCounter}`,
  };
}

/** Lets every pending promise continuation run (shard replies, round closes). */
async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await Promise.resolve();
}

/** Tracks a promise without awaiting it: 'pending' until it settles. */
function track<T>(promise: Promise<T>): {
  state: 'pending' | 'resolved' | 'rejected';
  value?: T;
  error?: unknown;
} {
  const tracked: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = {
    state: 'pending',
  };
  promise.then(
    (value) => Object.assign(tracked, { state: 'resolved', value }),
    (error: unknown) => Object.assign(tracked, { state: 'rejected', error }),
  );
  return tracked;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HubError) return error.code;
    throw error;
  }
  return undefined;
}

const neg = (xs: Float32Array) => Array.from(xs, (x) => (x === 0 ? 0 : -x));
const sum = (...gs: Float32Array[]) =>
  Float32Array.from({ length: TOTAL }, (_, i) => gs.reduce((s, g) => s + g[i], 0));

describe('Coordinator, async mode', () => {
  it('a push is applied to the shards at once; step, examples and pushes are counted', async () => {
    const hub = makeHub('async');
    const w = hub.coordinator.join({ backend: 'wasm' });
    const g = gradient(1);
    const result = await hub.coordinator.push(w, push(g, { examples: 64, loss: 2 }));
    expect(result).toEqual({ globalStep: 1, staleness: 0 });
    expect(weightsOf(hub)).toEqual(neg(g));
    expect(versionsOf(hub)).toEqual([1, 1, 1]);
    const status = hub.coordinator.status();
    expect(status).toMatchObject({
      mode: 'async',
      globalStep: 1,
      examplesSeen: 64,
      pushesAccepted: 1,
      trainLoss: 2,
    });
    expect(status.round).toBeNull();
    expect(status.workers).toEqual([
      expect.objectContaining({ id: w, backend: 'wasm', steps: 1, examples: 64 }),
    ]);
  });

  it('staleness is the number of updates applied since the pull, over the pushed shards', async () => {
    const hub = makeHub('async');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'cpu' });
    await hub.coordinator.push(b, push(gradient(1)));
    await hub.coordinator.push(b, push(gradient(2), { versions: [1, 1, 1] }));
    // b touches only shard 1 once more.
    await hub.coordinator.push(b, push(gradient(3), { versions: [2, 2, 2], shards: [1] }));
    expect(versionsOf(hub)).toEqual([2, 3, 2]);
    expect((await hub.coordinator.push(a, push(gradient(4), { shards: [0] }))).staleness).toBe(2);
    expect((await hub.coordinator.push(a, push(gradient(5), { versions: [0, 1, 0] }))).staleness).toBe(3);
    expect((await hub.coordinator.push(a, push(gradient(6), { versions: versionsOf(hub) }))).staleness).toBe(
      0,
    );
    const status = hub.coordinator.status();
    expect(status.globalStep).toBe(6);
    expect(status.pushesAccepted).toBe(6);
    expect(status.examplesSeen).toBe(60);
    const expected = neg(sum(gradient(1), gradient(2), gradient(5), gradient(6)));
    for (let f = 0; f < 4; f++) expected[f] -= gradient(4)[f]; // gradient(4) went to shard 0 only
    for (let f = 4; f < 8; f++) expected[f] -= gradient(3)[f]; // gradient(3) to shard 1 only
    expect(weightsOf(hub)).toEqual(expected.map((x) => (x === 0 ? 0 : x)));
  });

  it('the training loss is an exponential moving average', async () => {
    const hub = makeHub('async');
    const w = hub.coordinator.join({ backend: 'wasm' });
    expect(hub.coordinator.status().trainLoss).toBeNull();
    await hub.coordinator.push(w, push(gradient(1), { loss: 2 }));
    await hub.coordinator.push(w, push(gradient(1), { loss: 1 }));
    expect(hub.coordinator.status().trainLoss).toBeCloseTo(1.9, 10);
  });

  it('refuses a push, a lease or a completion from an unknown worker with NOT_REGISTERED', async () => {
    const hub = makeHub('async');
    expect(await codeOf(hub.coordinator.push('w99', push(gradient(1))))).toBe(ErrorCode.NotRegistered);
    expect(() => hub.coordinator.leaseUnit('w99')).toThrow(
      expect.objectContaining({ code: ErrorCode.NotRegistered }),
    );
    const w = hub.coordinator.join({ backend: 'wasm' });
    hub.coordinator.leave(w);
    expect(await codeOf(hub.coordinator.push(w, push(gradient(1))))).toBe(ErrorCode.NotRegistered);
    expect(hub.coordinator.touch(w)).toBe(false);
    expect(weightsOf(hub)).toEqual(new Array(TOTAL).fill(0));
  });

  it('leases units; leave gives a worker’s units back; completion counts epochs', () => {
    const hub = makeHub('async');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const ua = [hub.coordinator.leaseUnit(a), hub.coordinator.leaseUnit(a)];
    const ub = hub.coordinator.leaseUnit(b);
    expect(hub.coordinator.completeUnit(b, ub.unitId)).toBe(0.1);
    expect(() => hub.coordinator.completeUnit(b, ua[0].unitId)).toThrow(
      expect.objectContaining({ code: ErrorCode.UnknownUnit }),
    );
    hub.coordinator.leave(a);
    expect(hub.units.leasedCount).toBe(0);
    const again = [hub.coordinator.leaseUnit(b), hub.coordinator.leaseUnit(b)];
    expect(again.map((u) => u.unitId).sort()).toEqual(ua.map((u) => u.unitId).sort());
  });
});

describe('Coordinator, sync mode', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the first join opens round 0 with that worker', async () => {
    const hub = makeHub('sync');
    expect(hub.coordinator.status().round).toBeNull();
    const a = hub.coordinator.join({ backend: 'wasm' });
    expect(hub.coordinator.status().round).toBe(0);
    await expect(hub.coordinator.roundFor(a)).resolves.toBe(0);
  });

  it('a round waits for every participant, then applies the example-weighted mean x count once', async () => {
    const hub = makeHub('sync');
    const [a, b, c] = [0, 1, 2].map(() => hub.coordinator.join({ backend: 'wasm' }));
    const [ga, gb, gc] = [gradient(1), gradient(2), gradient(3)];
    const pa = track(hub.coordinator.push(a, push(ga, { round: 0, examples: 10, loss: 3 })));
    await flush();
    const pb = track(hub.coordinator.push(b, push(gb, { round: 0, examples: 20, loss: 1 })));
    await flush();
    expect(pa.state).toBe('pending');
    expect(pb.state).toBe('pending');
    expect(hub.coordinator.status()).toMatchObject({ globalStep: 0, examplesSeen: 0, pushesAccepted: 2 });
    expect(weightsOf(hub)).toEqual(new Array(TOTAL).fill(0));
    const pc = track(hub.coordinator.push(c, push(gc, { round: 0, examples: 30, loss: 2 })));
    await flush();
    for (const p of [pa, pb, pc])
      expect(p).toMatchObject({ state: 'resolved', value: { globalStep: 1, staleness: 0 } });
    // Batches of 10, 20 and 30 examples: the mean is per example; lr (1) x 3 gradients.
    const expected = ga.map((_, i) => (-3 * (10 * ga[i] + 20 * gb[i] + 30 * gc[i])) / 60);
    weightsOf(hub).forEach((w, i) => expect(w).toBeCloseTo(expected[i], 5));
    expect(versionsOf(hub)).toEqual([1, 1, 1]);
    expect(hub.coordinator.status()).toMatchObject({
      globalStep: 1,
      examplesSeen: 60,
      pushesAccepted: 3,
      trainLoss: 2,
      round: 1,
    });
    await expect(hub.coordinator.roundFor(a)).resolves.toBe(1);
  });

  it('a worker joining a round that already has a gradient takes part in the next one', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0 })));
    await flush();
    const c = hub.coordinator.join({ backend: 'wasm' });
    const rc = track(hub.coordinator.roundFor(c));
    await flush();
    expect(rc.state).toBe('pending');
    expect(await codeOf(hub.coordinator.push(c, push(gradient(3), { round: 0 })))).toBe(ErrorCode.NotInRound);
    // The round does not wait for c.
    const pb = track(hub.coordinator.push(b, push(gradient(2), { round: 0 })));
    await flush();
    expect(pa.state).toBe('resolved');
    expect(pb.state).toBe('resolved');
    expect(rc).toMatchObject({ state: 'resolved', value: 1 });
    expect(weightsOf(hub)).toEqual(neg(sum(gradient(1), gradient(2))));
    // Round 1 waits for all three.
    const p1 = [a, b].map((w, i) => track(hub.coordinator.push(w, push(gradient(10 + i), { round: 1 }))));
    await flush();
    expect(p1.map((p) => p.state)).toEqual(['pending', 'pending']);
    await hub.coordinator.push(c, push(gradient(12), { round: 1 }));
    await flush();
    expect(p1.map((p) => p.state)).toEqual(['resolved', 'resolved']);
    expect(hub.coordinator.status().globalStep).toBe(2);
  });

  it('a worker joining a round with no gradient yet is a participant at once', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    await expect(hub.coordinator.roundFor(b)).resolves.toBe(0);
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0 })));
    await flush();
    expect(pa.state).toBe('pending');
    await hub.coordinator.push(b, push(gradient(2), { round: 0 }));
    expect(pa.state).toBe('resolved');
  });

  it('leave() of the last missing participant closes the round with the gradients it has', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const rb = track(hub.coordinator.roundFor(b));
    hub.coordinator.leaseUnit(b);
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0, examples: 7 })));
    await flush();
    expect(pa.state).toBe('pending');
    hub.coordinator.leave(b);
    await flush();
    expect(rb.state).toBe('resolved'); // it had resolved to round 0 before the leave
    expect(pa).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(weightsOf(hub)).toEqual(neg(gradient(1)));
    expect(hub.coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 7, round: 1 });
    expect(hub.units.leasedCount).toBe(0);
  });

  it('leave() rejects the worker’s waiting pull with NOT_REGISTERED', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0 })));
    await flush();
    const ra = hub.coordinator.roundFor(a); // a already sent its gradient: waits for round 1
    hub.coordinator.leave(a);
    expect(await codeOf(ra)).toBe(ErrorCode.NotRegistered);
    await flush();
    // The round still waits for b; a's gradient stays in it.
    expect(pa.state).toBe('pending');
    await hub.coordinator.push(b, push(gradient(2), { round: 0 }));
    expect(pa).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(weightsOf(hub)).toEqual(neg(sum(gradient(1), gradient(2))));
  });

  it('the last worker leaving an empty round leaves no round; the next join opens one', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    hub.coordinator.leave(a);
    expect(hub.coordinator.status().round).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
    const b = hub.coordinator.join({ backend: 'wasm' });
    await expect(hub.coordinator.roundFor(b)).resolves.toBe(1);
    expect(hub.coordinator.status().globalStep).toBe(0);
  });

  it('the deadline closes a round that has at least one gradient', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0, examples: 5 })));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
    expect(pa.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(pa).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(weightsOf(hub)).toEqual(neg(gradient(1)));
    expect(hub.coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 5, round: 1 });
    // The straggler's late gradient is refused and changes nothing.
    expect(await codeOf(hub.coordinator.push(b, push(gradient(2), { round: 0 })))).toBe(ErrorCode.StaleRound);
    expect(weightsOf(hub)).toEqual(neg(gradient(1)));
    await expect(hub.coordinator.roundFor(b)).resolves.toBe(1);
  });

  it('the deadline re-opens an empty round without a step', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(hub.coordinator.status()).toMatchObject({ round: 1, globalStep: 0 });
    expect(versionsOf(hub)).toEqual([0, 0, 0]);
    expect(await codeOf(hub.coordinator.push(a, push(gradient(1), { round: 0 })))).toBe(ErrorCode.StaleRound);
    await expect(hub.coordinator.roundFor(a)).resolves.toBe(1);
    await vi.advanceTimersByTimeAsync(3 * TIMEOUT_MS);
    expect(hub.coordinator.status()).toMatchObject({ round: 4, globalStep: 0 });
    // Only the open round's timer is alive.
    expect(vi.getTimerCount()).toBe(1);
  });

  it('names STALE_ROUND, NOT_IN_ROUND and DUPLICATE_IN_ROUND, and none of them changes anything', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    expect(await codeOf(hub.coordinator.push(a, push(gradient(1), { round: 1 })))).toBe(ErrorCode.StaleRound);
    expect(await codeOf(hub.coordinator.push(a, push(gradient(1))))).toBe(ErrorCode.StaleRound);
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0 })));
    await flush();
    expect(await codeOf(hub.coordinator.push(a, push(gradient(2), { round: 0 })))).toBe(
      ErrorCode.DuplicateInRound,
    );
    const c = hub.coordinator.join({ backend: 'wasm' });
    expect(await codeOf(hub.coordinator.push(c, push(gradient(3), { round: 0 })))).toBe(ErrorCode.NotInRound);
    expect(hub.coordinator.status()).toMatchObject({ pushesAccepted: 1, globalStep: 0 });
    await hub.coordinator.push(b, push(gradient(4), { round: 0 }));
    await flush();
    expect(pa.state).toBe('resolved');
    expect(weightsOf(hub)).toEqual(neg(sum(gradient(1), gradient(4))));
    expect(hub.coordinator.status()).toMatchObject({ pushesAccepted: 2, globalStep: 1, examplesSeen: 20 });
  });

  it('close() rejects waiting pulls and pushes and stops the round timer', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    hub.coordinator.join({ backend: 'wasm' });
    const pa = hub.coordinator.push(a, push(gradient(1), { round: 0 }));
    await flush();
    const ra = hub.coordinator.roundFor(a);
    hub.coordinator.close();
    expect(await codeOf(pa)).toBe(ErrorCode.Internal);
    expect(await codeOf(ra)).toBe(ErrorCode.Internal);
    expect(vi.getTimerCount()).toBe(0);
    expect(hub.coordinator.status().round).toBeNull();
    // Nothing opens a round after close.
    hub.coordinator.join({ backend: 'wasm' });
    expect(hub.coordinator.status().round).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  // Regression: when the last two gradients of a round were pushed before either accumulate reply was
  // handled, both continuations closed the round: globalStep +2 while the shards applied it once.
  it('two gradients pushed in the same tick close the round once', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const results = await Promise.all([
      hub.coordinator.push(a, push(gradient(1), { round: 0, examples: 10 })),
      hub.coordinator.push(b, push(gradient(2), { round: 0, examples: 10 })),
    ]);
    expect(weightsOf(hub)).toEqual(neg(sum(gradient(1), gradient(2))));
    expect(versionsOf(hub)).toEqual([1, 1, 1]);
    expect(results.map((r) => r.globalStep)).toEqual([1, 1]);
    expect(hub.coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 20, round: 1 });
  });
});

describe('Coordinator, sync mode, shards in another process', () => {
  // Real timers: RemoteShardRef answers on setImmediate.
  it('a full round over asynchronous shard refs', async () => {
    const hub = makeHub('sync', true);
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const pa = hub.coordinator.push(a, push(gradient(1), { round: 0 }));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    await hub.coordinator.push(b, push(gradient(2), { round: 0 }));
    await pa;
    expect(weightsOf(hub)).toEqual(neg(sum(gradient(1), gradient(2))));
    expect(hub.coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 20 });
    hub.coordinator.close();
  });

  // Regression (same cause): with shards answering asynchronously, the last missing worker leaving
  // while another worker's accumulate was in flight closed the round twice.
  it('leave() while a gradient is being accumulated closes the round once', async () => {
    const hub = makeHub('sync', true);
    const a = hub.coordinator.join({ backend: 'wasm' });
    const b = hub.coordinator.join({ backend: 'wasm' });
    const pa = hub.coordinator.push(a, push(gradient(1), { round: 0, examples: 10 }));
    hub.coordinator.leave(b);
    const result = await pa;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(versionsOf(hub)).toEqual([1, 1, 1]);
    expect(result.globalStep).toBe(1);
    expect(hub.coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 10 });
    hub.coordinator.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// Seeded fuzz of sync rounds against a model of the protocol.

interface ModelRound {
  readonly id: number;
  readonly participants: Set<string>;
  readonly received: Set<string>;
  readonly gradients: { readonly g: Float32Array; readonly examples: number }[];
  examples: number;
}

/** What the coordinator should do, written as plainly as possible. */
class SyncModel {
  readonly workers = new Set<string>();
  round: ModelRound | null = null;
  nextRoundId = 0;
  globalStep = 0;
  examplesSeen = 0;
  pushesAccepted = 0;
  readonly weights = new Float64Array(TOTAL);
  /** Workers whose roundFor is waiting, and what settled pulls must have resolved to. */
  readonly waiting = new Set<string>();
  readonly pullResults = new Map<string, number>();
  /** Push id -> the global step its reply must carry, once its round closes. */
  readonly pushResults = new Map<number, number>();
  readonly pushesInRound = new Map<number, number[]>();
  closed = false;

  join(id: string): void {
    this.workers.add(id);
    if (this.round === null) this.open();
    else if (this.round.received.size === 0) this.round.participants.add(id);
  }

  leave(id: string): void {
    this.workers.delete(id);
    this.waiting.delete(id);
    const round = this.round;
    if (!round) return;
    round.participants.delete(id);
    if (round.received.size > 0 && this.allReceived(round)) this.close(round);
    else if (round.participants.size === 0) this.reopen();
  }

  /** The round roundFor resolves to now, or null when it must wait. */
  roundFor(id: string): number | null {
    const round = this.round;
    if (round && round.participants.has(id) && !round.received.has(id)) return round.id;
    this.waiting.add(id);
    return null;
  }

  /** The error code a push must get, or null when it is accepted. */
  push(
    id: string,
    pushId: number,
    roundId: number | undefined,
    g: Float32Array,
    examples: number,
  ): string | null {
    const round = this.round;
    if (!round || roundId !== round.id) return ErrorCode.StaleRound;
    if (!round.participants.has(id)) return ErrorCode.NotInRound;
    if (round.received.has(id)) return ErrorCode.DuplicateInRound;
    round.received.add(id);
    round.gradients.push({ g, examples });
    round.examples += examples;
    this.pushesAccepted++;
    this.pushesInRound.set(round.id, [...(this.pushesInRound.get(round.id) ?? []), pushId]);
    if (this.allReceived(round)) this.close(round);
    return null;
  }

  deadline(): void {
    const round = this.round;
    if (!round) return;
    if (round.received.size > 0) this.close(round);
    else this.reopen();
  }

  private allReceived(round: ModelRound): boolean {
    return [...round.participants].every((id) => round.received.has(id));
  }

  private close(round: ModelRound): void {
    this.globalStep++;
    this.examplesSeen += round.examples;
    // sgd, rate 1: the example-weighted mean gradient times the number of gradients.
    const count = round.gradients.length;
    for (const { g, examples } of round.gradients) {
      for (let i = 0; i < TOTAL; i++) this.weights[i] -= (count * examples * g[i]) / round.examples;
    }
    for (const pushId of this.pushesInRound.get(round.id) ?? [])
      this.pushResults.set(pushId, this.globalStep);
    this.round = null;
    if (this.workers.size > 0) this.open();
  }

  private reopen(): void {
    this.round = null;
    if (this.workers.size > 0) this.open();
  }

  private open(): void {
    if (this.closed) return;
    this.round = {
      id: this.nextRoundId++,
      participants: new Set(this.workers),
      received: new Set(),
      gradients: [],
      examples: 0,
    };
    for (const id of this.waiting) this.pullResults.set(id, this.round.id);
    this.waiting.clear();
  }
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

interface PushRecord {
  readonly worker: string;
  readonly expected: string | null;
  readonly examples: number;
  readonly outcome: ReturnType<typeof track<PushResult>>;
}

/**
 * One seeded run: random join / leave / pull / push (fresh, duplicate, stale, future, no round) /
 * deadline / lease / complete. Sequential: every operation's continuations run before the next one,
 * as when each message arrives in its own turn of the event loop. After every step the coordinator
 * must agree with the model exactly.
 */
async function fuzzSyncOnce(seed: number): Promise<void> {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const hub = makeHub('sync');
  const coordinator = hub.coordinator;
  const model = new SyncModel();
  const pulls = new Map<string, ReturnType<typeof track<number>>>();
  /** The round each worker last got from a pull (what a real worker would push for). */
  const pulledRound = new Map<string, number>();
  const lastPushed = new Map<string, number | undefined>();
  const held = new Map<string, LeasedUnit[]>();
  const pushes: PushRecord[] = [];
  let maxEpoch = -1;
  let lastStep = 0;

  const checkState = (where: string) => {
    const status = coordinator.status();
    check(
      status.globalStep >= lastStep,
      `${where}: global step went back ${lastStep} -> ${status.globalStep}`,
    );
    lastStep = status.globalStep;
    check(
      status.globalStep === model.globalStep,
      `${where}: globalStep ${status.globalStep}, model ${model.globalStep}`,
    );
    check(
      status.examplesSeen === model.examplesSeen,
      `${where}: examplesSeen ${status.examplesSeen}, model ${model.examplesSeen}`,
    );
    check(
      status.pushesAccepted === model.pushesAccepted,
      `${where}: pushesAccepted ${status.pushesAccepted}, model ${model.pushesAccepted}`,
    );
    check(
      status.round === (model.round?.id ?? null),
      `${where}: round ${status.round}, model ${model.round?.id ?? null}`,
    );
    check(
      status.workers.map((w) => w.id).join() === [...model.workers].join(),
      `${where}: workers ${status.workers.map((w) => w.id)} model ${[...model.workers]}`,
    );
    // One applied round = +1 on every shard.
    const versions = versionsOf(hub);
    check(
      versions.every((v) => v === model.globalStep),
      `${where}: shard versions ${versions}, step ${model.globalStep}`,
    );
    const weights = weightsOf(hub);
    check(
      weights.every((w, i) => Math.abs(w - model.weights[i]) < 1e-3),
      `${where}: weights ${weights} model ${Array.from(model.weights)}`,
    );
    for (const [worker, pull] of pulls) {
      const expected = model.pullResults.get(worker);
      if (expected !== undefined) {
        check(
          pull.state === 'resolved' && pull.value === expected,
          `${where}: pull of ${worker} ${pull.state} ${pull.value}, model ${expected}`,
        );
        pulledRound.set(worker, expected);
        pulls.delete(worker);
        model.pullResults.delete(worker);
      } else {
        check(
          pull.state === 'pending',
          `${where}: pull of ${worker} settled (${pull.state} ${pull.value}) but should wait`,
        );
      }
    }
    pushes.forEach((p, pushId) => {
      if (p.expected !== null) {
        const code = p.outcome.error instanceof HubError ? p.outcome.error.code : String(p.outcome.error);
        check(
          p.outcome.state === 'rejected' && code === p.expected,
          `${where}: push ${pushId} got ${p.outcome.state} ${code}, model ${p.expected}`,
        );
        return;
      }
      const step = model.pushResults.get(pushId);
      if (step === undefined)
        check(p.outcome.state === 'pending', `${where}: push ${pushId} settled before its round closed`);
      else
        check(
          p.outcome.state === 'resolved' && p.outcome.value?.globalStep === step,
          `${where}: push ${pushId} ${p.outcome.state} ${JSON.stringify(p.outcome.value ?? String(p.outcome.error))}, model step ${step}`,
        );
    });
    // Leases: every unit of every started epoch is completed, leased to a registered worker, or pooled.
    const heldCount = [...held.values()].reduce((n, units) => n + units.length, 0);
    check(
      hub.units.leasedCount === heldCount,
      `${where}: ${hub.units.leasedCount} units leased, workers hold ${heldCount}`,
    );
    check(
      hub.units.leasedCount + hub.units.pooledCount + hub.units.completedUnits ===
        (maxEpoch + 1) * hub.units.unitsPerEpoch,
      `${where}: a unit was lost or duplicated`,
    );
  };

  let nextName = 1;
  const ops = 40 + Math.floor(random() * 60);
  for (let step = 0; step < ops; step++) {
    const workers = [...model.workers];
    const r = random();
    let what: string;
    if (workers.length === 0 || (r < 0.12 && workers.length < 5)) {
      const id = coordinator.join({ backend: 'wasm' });
      check(id === `w${nextName++}`, `unexpected worker id ${id}`);
      model.join(id);
      held.set(id, []);
      what = `join ${id}`;
    } else if (r < 0.2) {
      const id = pick(workers);
      coordinator.leave(id);
      model.leave(id);
      held.delete(id);
      pulledRound.delete(id);
      const pull = pulls.get(id);
      if (pull) {
        await flush();
        check(
          pull.state === 'rejected' && (pull.error as HubError).code === ErrorCode.NotRegistered,
          `leave ${id}: its pull ${pull.state}`,
        );
        pulls.delete(id);
      }
      what = `leave ${id}`;
    } else if (r < 0.4) {
      const id = pick(workers);
      what = `pull ${id}`;
      if (!pulls.has(id)) {
        const now = model.roundFor(id);
        pulls.set(id, track(coordinator.roundFor(id)));
        if (now !== null) model.pullResults.set(id, now);
      }
    } else if (r < 0.75) {
      const id = pick(workers);
      const kind = random();
      let round: number | undefined;
      if (kind < 0.6) round = pulledRound.get(id) ?? model.round?.id;
      else if (kind < 0.75)
        round = lastPushed.get(id); // a duplicate (or a retry after the round closed)
      else if (kind < 0.85) round = Math.max(0, (model.round?.id ?? 0) - 1 - Math.floor(random() * 2));
      else if (kind < 0.95) round = (model.round?.id ?? 0) + 1;
      else round = undefined;
      const g = gradient(seed * 1000 + step);
      const examples = 1 + Math.floor(random() * 64);
      const pushId = pushes.length;
      const expected = model.push(id, pushId, round, g, examples);
      pushes.push({
        worker: id,
        expected,
        examples,
        outcome: track(coordinator.push(id, push(g, { round, examples, loss: random() }))),
      });
      if (expected === null) {
        lastPushed.set(id, round);
        // A worker pushes once per pull; its next fresh push pulls again (or guesses the open round).
        pulledRound.delete(id);
      }
      what = `push ${id} round ${round} -> ${expected ?? 'accepted'}`;
    } else if (r < 0.85) {
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
      model.deadline();
      what = 'deadline';
    } else if (r < 0.93) {
      const id = pick(workers);
      const unit = coordinator.leaseUnit(id);
      maxEpoch = Math.max(maxEpoch, unit.epoch);
      held.get(id)!.push(unit);
      what = `lease ${id}`;
    } else {
      const id = pick(workers);
      const mine = held.get(id)!;
      if (mine.length > 0 && random() < 0.8) {
        const unit = mine.splice(Math.floor(random() * mine.length), 1)[0];
        coordinator.completeUnit(id, unit.unitId);
        what = `complete ${id} ${unit.unitId}`;
      } else {
        let code: string | undefined;
        try {
          coordinator.completeUnit(id, 10_000);
        } catch (error) {
          code = (error as HubError).code;
        }
        check(code === ErrorCode.UnknownUnit, `complete of an unknown unit gave ${code}`);
        what = `bad complete ${id}`;
      }
    }
    await flush();
    checkState(`step ${step} (${what})`);
  }

  // Close whatever round is open; then every accepted push has been applied exactly once.
  await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
  model.deadline();
  await flush();
  checkState('final deadline');
  const accepted = pushes.filter((p) => p.expected === null);
  check(
    accepted.every((p) => p.outcome.state === 'resolved'),
    'an accepted push never got its reply',
  );
  const acceptedExamples = accepted.reduce((n, p) => n + p.examples, 0);
  check(
    coordinator.status().examplesSeen === acceptedExamples,
    `examplesSeen != examples of accepted pushes`,
  );
  const perWorkerSteps = new Map<string, number>();
  for (const p of accepted) perWorkerSteps.set(p.worker, (perWorkerSteps.get(p.worker) ?? 0) + 1);
  for (const w of coordinator.status().workers) {
    check(w.steps === (perWorkerSteps.get(w.id) ?? 0), `worker ${w.id} credited ${w.steps} steps`);
  }

  coordinator.close();
  await flush();
  for (const [worker, pull] of pulls) {
    check(pull.state === 'rejected', `pull of ${worker} still ${pull.state} after close()`);
  }
  check(vi.getTimerCount() === 0, 'a timer outlived close()');
}

/**
 * Concurrent variant: several operations are issued in one turn before any continuation runs (as
 * with shards in other processes). Only invariants, no exact model: the step never goes back, shard
 * versions equal the step, no push is applied twice, examplesSeen equals the examples of accepted
 * pushes once every round has closed.
 */
async function fuzzSyncConcurrentOnce(seed: number): Promise<void> {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const hub = makeHub('sync');
  const coordinator = hub.coordinator;
  const workers: string[] = [];
  const accepted: { examples: number; g: Float32Array; outcome: ReturnType<typeof track<PushResult>> }[] = [];
  let lastStep = 0;
  for (let batch = 0; batch < 15; batch++) {
    const size = 1 + Math.floor(random() * 4);
    for (let k = 0; k < size; k++) {
      const r = random();
      if (workers.length === 0 || (r < 0.15 && workers.length < 5))
        workers.push(coordinator.join({ backend: 'wasm' }));
      else if (r < 0.25) coordinator.leave(workers.splice(Math.floor(random() * workers.length), 1)[0]);
      else {
        const id = pick(workers);
        const g = gradient(seed * 1000 + batch * 10 + k);
        // Equal batches: a round's example-weighted mean is then its plain mean, so the weights end
        // at minus the sum of the applied gradients whichever round each landed in.
        const examples = 16;
        const round = coordinator.status().round ?? undefined;
        const outcome = track(coordinator.push(id, push(g, { round, examples })));
        accepted.push({ examples, g, outcome });
      }
    }
    if (random() < 0.3) await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await flush();
    const step = coordinator.status().globalStep;
    check(step >= lastStep, `global step went back`);
    lastStep = step;
    const versions = versionsOf(hub);
    check(
      versions.every((v) => v === step),
      `batch ${batch}: shard versions ${versions}, global step ${step}`,
    );
  }
  await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
  await flush();
  const ok = accepted.filter((p) => p.outcome.state !== 'rejected');
  check(
    ok.every((p) => p.outcome.state === 'resolved'),
    'an accepted push never got its reply',
  );
  const status = coordinator.status();
  const examples = ok.reduce((n, p) => n + p.examples, 0);
  check(status.examplesSeen === examples, `examplesSeen ${status.examplesSeen}, accepted ${examples}`);
  check(
    status.pushesAccepted === ok.length,
    `pushesAccepted ${status.pushesAccepted}, accepted ${ok.length}`,
  );
  const expected = neg(sum(...ok.map((p) => p.g)));
  const weights = weightsOf(hub);
  check(
    weights.every((w, i) => Math.abs(w - expected[i]) < 1e-3),
    `weights ${weights}, expected ${expected}`,
  );
  coordinator.close();
}

describe('Coordinator, sync mode, seeded fuzz', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sequential join / leave / pull / push / duplicate / stale / deadline / leases match the model', async () => {
    for (let seed = 1; seed <= 250; seed++) {
      try {
        await fuzzSyncOnce(seed);
      } catch (error) {
        throw new Error(`sync fuzz failed with seed ${seed}: ${(error as Error).message}`, { cause: error });
      } finally {
        vi.clearAllTimers();
      }
    }
  });

  // Found the double close above ('two gradients pushed in the same tick') at seed 1.
  it('concurrent operations keep the invariants', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      try {
        await fuzzSyncConcurrentOnce(seed);
      } catch (error) {
        throw new Error(`concurrent sync fuzz failed with seed ${seed}: ${(error as Error).message}`, {
          cause: error,
        });
      } finally {
        vi.clearAllTimers();
      }
    }
  });
});
