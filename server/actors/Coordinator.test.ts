import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { mulberry32 } from '../../shared/random.js';
import type { LeasedUnit } from '../data/UnitPool.js';
import type { PushResult, RoundRecord } from './Coordinator.js';
import { COORDINATOR_FUZZ_REGRESSIONS } from './fuzz-regressions/coordinatorSeeds.js';
import type { ShardMessage } from './ShardActor.js';
import {
  check,
  checkAfter,
  codeOf,
  codeOfError,
  deliverOne,
  flush,
  gradient,
  makeHub,
  neg,
  picker,
  push,
  pushTagOf,
  ranges,
  runSeeds,
  seedRange,
  TIMEOUT_MS,
  TOTAL,
  track,
  versionsOf,
  weightsOf,
  type PushTag,
  type Tracked,
} from './testing/coordinatorHarness.js';

/**
 * The sync invariants that hold however messages interleave, checked on the messages the shards get
 * (each shard handles its messages in the order sent): no push id reaches a shard twice, a round holds
 * at most one gradient per worker (and at most `replicasToAggregate`), no accumulated gradient is
 * dropped by a later round's accumulate, and every shard applies the same gradients in the same rounds.
 */
class SyncShardLog {
  readonly violations: string[] = [];
  /** Per shard: the rounds applied, in order, with the push ids averaged in each. */
  readonly applied: { round: number; pushIds: string[] }[][] = ranges.map(() => []);
  private readonly seen = ranges.map(() => new Set<string>());
  private readonly pending = ranges.map(() => new Map<number, PushTag[]>());

  /** `replicas`: the bound on gradients per round to check (undefined: no bound). */
  constructor(private readonly replicas?: number) {}

  record(shard: number, message: ShardMessage): void {
    if (message.type === 'accumulate') {
      const tag = pushTagOf(message.pieces[0].values);
      if (!tag) return void this.violations.push(`shard ${shard}: an untagged gradient`);
      if (this.seen[shard].has(tag.pushId))
        this.violations.push(`shard ${shard}: push id ${tag.pushId} accumulated a second time`);
      this.seen[shard].add(tag.pushId);
      const pending = this.pending[shard];
      for (const [round, tags] of pending) {
        // The actor keeps one round's sum: accumulating another round discards it.
        if (round !== message.round && tags.length > 0)
          this.violations.push(
            `shard ${shard}: round ${round}'s gradients dropped by round ${message.round}`,
          );
      }
      const list = pending.get(message.round) ?? [];
      if (list.some((t) => t.worker === tag.worker))
        this.violations.push(
          `shard ${shard}: round ${message.round} got a second gradient from ${tag.worker}`,
        );
      list.push(tag);
      pending.clear();
      pending.set(message.round, list);
    } else if (message.type === 'applyRound') {
      const list = this.pending[shard].get(message.round) ?? [];
      this.pending[shard].delete(message.round);
      if (list.length === 0) this.violations.push(`shard ${shard}: round ${message.round} applied empty`);
      if (this.replicas !== undefined && list.length > this.replicas)
        this.violations.push(
          `shard ${shard}: round ${message.round} averaged ${list.length} gradients, replicasToAggregate ${this.replicas}`,
        );
      this.applied[shard].push({ round: message.round, pushIds: list.map((t) => t.pushId) });
    }
  }

  /** Every shard applied the same rounds with the same gradients; the push ids applied. */
  appliedPushIds(): string[] {
    const first = JSON.stringify(this.applied[0]);
    this.applied.forEach((rounds, shard) => {
      if (JSON.stringify(rounds) !== first)
        this.violations.push(`shard ${shard} applied ${JSON.stringify(rounds)}, shard 0 ${first}`);
    });
    return this.applied[0].flatMap((r) => r.pushIds);
  }
}

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

  it('the deadline re-opens an empty round without a step; a late push for it joins the open round', async () => {
    const hub = makeHub('sync');
    const a = hub.coordinator.join({ backend: 'wasm' });
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(hub.coordinator.status()).toMatchObject({ round: 1, globalStep: 0 });
    expect(versionsOf(hub)).toEqual([0, 0, 0]);
    await expect(hub.coordinator.roundFor(a)).resolves.toBe(1);
    await vi.advanceTimersByTimeAsync(3 * TIMEOUT_MS);
    expect(hub.coordinator.status()).toMatchObject({ round: 4, globalStep: 0 });
    // Only the open round's timer is alive.
    expect(vi.getTimerCount()).toBe(1);
    // Nothing was applied since round 0: a gradient computed for it is as good as one for round 4.
    await expect(hub.coordinator.push(a, push(gradient(1), { round: 0 }))).resolves.toMatchObject({
      globalStep: 1,
    });
    expect(versionsOf(hub)).toEqual([1, 1, 1]);
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
  // Real timers: the shard refs answer on setImmediate.
  it('a full round over asynchronous shard refs', async () => {
    const hub = makeHub('sync', { shardTiming: 'nextMacrotask' });
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
    const hub = makeHub('sync', { shardTiming: 'nextMacrotask' });
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

/** Seeds per fuzz configuration and run. */
const SYNC_SEEDS = 150;
const CONCURRENT_SEEDS = 100;
const SLOW_SEEDS = 100;
/** A worker silent for this long loses its units: a few clock advances of the fuzz. */
const LEASE_MS = 1500;
const BATCH_SIZING = { targetStepMs: 200, minBatch: 4, maxBatch: 128, initialBatch: 32 };
/** BatchSizer's weight of the newest measurement in its moving average (restated, not imported). */
const BATCH_SMOOTHING = 0.3;
/** Coordinator keeps this many closed rounds in its status. */
const RECENT_ROUNDS = 120;

interface ModelRound {
  readonly id: number;
  readonly participants: Set<string>;
  readonly participantsAtOpen: number;
  /** Participants at open plus the newcomers admitted before the first gradient. */
  waitedFor: number;
  readonly openedAt: number;
  readonly received: Set<string>;
  readonly gradients: { readonly g: Float32Array; readonly examples: number }[];
  /** Indices (in the fuzz's list of pushes) of the pushes accepted into the round. */
  readonly pushes: number[];
  examples: number;
}

/** What a push must get: refused with one of `codes`, accepted, or the outcome of an earlier push. */
type ModelOutcome =
  | { readonly kind: 'refused'; readonly codes: readonly string[] }
  | { readonly kind: 'accepted' }
  | { readonly kind: 'duplicate'; readonly of: number };

/** What the coordinator should do, written as plainly as possible. Times are the fake clock's ms. */
class SyncModel {
  readonly workers = new Set<string>();
  round: ModelRound | null = null;
  /** The round closed last: a late gradient for it is a dropped backup or a stale one. */
  lastClosed: ModelRound | null = null;
  readonly closedRounds: RoundRecord[] = [];
  /** Per closed round, the other count `participants` may rightly hold (see closedRounds). */
  readonly waitedFor: number[] = [];
  nextRoundId = 0;
  /** The id of the last round that applied an update (-1: none yet). */
  lastAppliedRound = -1;
  globalStep = 0;
  examplesSeen = 0;
  pushesAccepted = 0;
  readonly weights = new Float64Array(TOTAL);
  /** Workers whose roundFor is waiting, and what settled pulls must have resolved to. */
  readonly waiting = new Set<string>();
  readonly pullResults = new Map<string, number>();
  /** Push index -> the global step its reply must carry, once its round closes. */
  readonly pushResults = new Map<number, number>();
  /** Push id -> index of the accepted push that carried it first (refused ids are forgotten). */
  readonly ledger = new Map<string, number>();
  /** Worker -> moving average of ms per example. */
  readonly msPerExample = new Map<string, number>();
  /** Leased units by id, in the order leased; units given back and not leased again; completed. */
  readonly leases = new Map<number, { holder: string; renewedAt: number }>();
  readonly returned = new Set<number>();
  readonly completed = new Set<number>();
  epochsStarted = 0;
  /** Lease bookkeeping the pool got wrong, if any. */
  readonly leaseProblems: string[] = [];

  constructor(
    readonly replicas: number | undefined,
    public now: number,
    private readonly unitsPerEpoch: number,
  ) {}

  join(id: string): void {
    this.workers.add(id);
    if (this.round === null) this.open();
    else if (this.round.received.size === 0) {
      this.round.participants.add(id);
      this.round.waitedFor++;
    }
  }

  leave(id: string): void {
    this.workers.delete(id);
    this.waiting.delete(id);
    this.msPerExample.delete(id);
    for (const [unitId, lease] of this.leases) {
      if (lease.holder === id) {
        this.leases.delete(unitId);
        this.returned.add(unitId);
      }
    }
    const round = this.round;
    if (!round) return;
    round.participants.delete(id);
    if (round.received.size > 0 && this.roundComplete(round)) this.close(round);
    else if (round.participants.size === 0) this.reopen();
  }

  /** Any message of a registered worker renews its leases. */
  touch(id: string): void {
    for (const lease of this.leases.values()) if (lease.holder === id) lease.renewedAt = this.now;
  }

  /** The round roundFor resolves to now, or null when it must wait. */
  roundFor(id: string): number | null {
    const round = this.round;
    if (round && round.participants.has(id) && !round.received.has(id)) return round.id;
    this.waiting.add(id);
    return null;
  }

  push(
    id: string,
    index: number,
    pushId: string,
    roundId: number | undefined,
    g: Float32Array,
    examples: number,
    computeMs: number | undefined,
  ): ModelOutcome {
    this.touch(id);
    const first = this.ledger.get(pushId);
    if (first !== undefined) return { kind: 'duplicate', of: first };
    if (computeMs !== undefined) {
      const measured = computeMs / examples;
      const previous = this.msPerExample.get(id);
      this.msPerExample.set(
        id,
        previous === undefined ? measured : previous + BATCH_SMOOTHING * (measured - previous),
      );
    }
    const round = this.round;
    // A gradient for an earlier round with no update applied since was computed on the open
    // round's weights (rounds in between closed empty): it counts for the open round.
    if (round && roundId !== undefined && roundId < round.id && roundId > this.lastAppliedRound) {
      roundId = round.id;
    }
    if (!round || roundId !== round.id) {
      const closed = this.lastClosed;
      const wanted = this.replicas;
      if (
        closed &&
        roundId === closed.id &&
        closed.participants.has(id) &&
        wanted !== undefined &&
        closed.received.size >= wanted
      ) {
        // A second gradient from a worker already averaged in the round is no backup, but the
        // coordinator names it one: see "BACKUP_DROPPED names only backups" in Coordinator.churn.test.ts.
        const codes = closed.received.has(id)
          ? [ErrorCode.BackupDropped, ErrorCode.StaleRound]
          : [ErrorCode.BackupDropped];
        return { kind: 'refused', codes };
      }
      return { kind: 'refused', codes: [ErrorCode.StaleRound] };
    }
    if (!round.participants.has(id)) return { kind: 'refused', codes: [ErrorCode.NotInRound] };
    if (round.received.has(id)) return { kind: 'refused', codes: [ErrorCode.DuplicateInRound] };
    round.received.add(id);
    round.gradients.push({ g, examples });
    round.examples += examples;
    round.pushes.push(index);
    this.pushesAccepted++;
    this.ledger.set(pushId, index);
    if (this.roundComplete(round)) this.close(round);
    return { kind: 'accepted' };
  }

  /** Moves the clock; every round deadline on the way fires at its own time. */
  advance(ms: number): void {
    const target = this.now + ms;
    while (this.round && this.round.openedAt + TIMEOUT_MS <= target) {
      this.now = this.round.openedAt + TIMEOUT_MS;
      const round = this.round;
      if (round.received.size > 0) this.close(round);
      else this.reopen();
    }
    this.now = target;
  }

  batchSizeFor(id: string): number {
    const speed = this.msPerExample.get(id);
    if (speed === undefined) return BATCH_SIZING.initialBatch;
    return Math.max(
      BATCH_SIZING.minBatch,
      Math.min(BATCH_SIZING.maxBatch, Math.round(BATCH_SIZING.targetStepMs / speed)),
    );
  }

  /** leaseUnit handed out `unit`: first the silent workers' leases expire, then it must be next. */
  lease(id: string, unit: LeasedUnit): void {
    const cutoff = this.now - LEASE_MS;
    for (const [unitId, lease] of this.leases) {
      if (lease.renewedAt < cutoff) {
        this.leases.delete(unitId);
        this.returned.add(unitId);
      }
    }
    const problem = (text: string) => this.leaseProblems.push(`lease of unit ${unit.unitId}: ${text}`);
    if (this.returned.size > 0) {
      // Units given back (a leave, an expiry) go out before any other.
      if (!this.returned.delete(unit.unitId)) problem(`units ${[...this.returned]} were given back first`);
    } else if (this.leases.has(unit.unitId) || this.completed.has(unit.unitId)) {
      problem('it is leased or completed');
    } else if (unit.epoch === this.epochsStarted) {
      if (this.leases.size + this.completed.size !== this.epochsStarted * this.unitsPerEpoch)
        problem('a new epoch while units of the last one are in the pool');
      this.epochsStarted++;
    } else if (unit.epoch !== this.epochsStarted - 1) {
      problem(`epoch ${unit.epoch}, the pool is at ${this.epochsStarted - 1}`);
    }
    this.leases.set(unit.unitId, { holder: id, renewedAt: this.now });
  }

  /** The error code completeUnit must throw, or null. */
  completeUnit(id: string, unitId: number): string | null {
    if (this.leases.get(unitId)?.holder !== id) return ErrorCode.UnknownUnit;
    this.leases.delete(unitId);
    this.completed.add(unitId);
    return null;
  }

  /** The round has its `replicas` gradients, or one from every participant still here. */
  private roundComplete(round: ModelRound): boolean {
    if (this.replicas !== undefined && round.received.size >= this.replicas) return true;
    return [...round.participants].every((id) => round.received.has(id));
  }

  private close(round: ModelRound): void {
    this.globalStep++;
    this.lastAppliedRound = round.id;
    this.examplesSeen += round.examples;
    // sgd, rate 1: the example-weighted mean gradient times the number of gradients averaged.
    const count = round.gradients.length;
    for (const { g, examples } of round.gradients) {
      for (let i = 0; i < TOTAL; i++) this.weights[i] -= (count * examples * g[i]) / round.examples;
    }
    for (const index of round.pushes) this.pushResults.set(index, this.globalStep);
    this.closedRounds.push({
      id: round.id,
      closedAt: this.now,
      durationMs: this.now - round.openedAt,
      gradients: count,
      participants: round.participantsAtOpen,
      kind: 'sync',
    });
    this.waitedFor.push(round.waitedFor);
    if (this.closedRounds.length > RECENT_ROUNDS) {
      this.closedRounds.shift();
      this.waitedFor.shift();
    }
    this.lastClosed = round;
    this.round = null;
    if (this.workers.size > 0) this.open();
  }

  private reopen(): void {
    this.round = null;
    if (this.workers.size > 0) this.open();
  }

  private open(): void {
    this.round = {
      id: this.nextRoundId++,
      participants: new Set(this.workers),
      participantsAtOpen: this.workers.size,
      waitedFor: this.workers.size,
      openedAt: this.now,
      received: new Set(),
      gradients: [],
      pushes: [],
      examples: 0,
    };
    for (const id of this.waiting) this.pullResults.set(id, this.round.id);
    this.waiting.clear();
  }
}

interface PushRecord {
  readonly worker: string;
  readonly pushId: string;
  readonly round: number | undefined;
  /** The gradient's values, for a resend. */
  readonly values: Float32Array;
  readonly examples: number;
  readonly expected: ModelOutcome;
  readonly outcome: Tracked<PushResult>;
}

interface SyncFuzzOptions {
  /** Undefined: a round waits for every worker registered when it opened. */
  readonly replicasToAggregate?: number;
}

/**
 * One seeded run: random join / leave / reconnect (leave, join under a new id, resend the last push
 * id) / pull / push (fresh, second in a round, stale, future, no round, a retried push id, from a
 * worker that left) / clock advances past deadlines and leases / touch / lease / complete.
 * Sequential: every operation's continuations run before the next one, as when each message arrives
 * in its own turn of the event loop. After every step the coordinator must agree with the model
 * exactly, and the shard log must hold the sync invariants.
 */
async function fuzzSyncOnce(seed: number, options: SyncFuzzOptions = {}): Promise<void> {
  const replicas = options.replicasToAggregate;
  const random = mulberry32(seed);
  const pick = picker(random);
  const log = new SyncShardLog(replicas);
  const hub = makeHub('sync', {
    replicasToAggregate: replicas,
    leaseTimeoutMs: LEASE_MS,
    batchSizing: BATCH_SIZING,
    now: () => Date.now(),
    onAsk: (shard, message) => log.record(shard, message),
  });
  const coordinator = hub.coordinator;
  const model = new SyncModel(replicas, Date.now(), hub.units.unitsPerEpoch);
  const pulls = new Map<string, Tracked<number | undefined>>();
  /** The round each worker last got from a pull (what a real worker would push for). */
  const pulledRound = new Map<string, number>();
  const lastPushed = new Map<string, number | undefined>();
  /** The units each worker believes it holds (an expired lease is still here). */
  const held = new Map<string, LeasedUnit[]>();
  const gone: string[] = [];
  const pushes: PushRecord[] = [];
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
    // No round outlives its deadline: each closed on time, and the open one is younger than that.
    // `participants` counts the workers at open; the newcomers the round also waited for may be
    // counted too (see "a round record counts the newcomers" in Coordinator.churn.test.ts).
    const rounds = status.recentRounds.map((r, i) =>
      r.participants === model.waitedFor[i] ? { ...r, participants: model.closedRounds[i]?.participants } : r,
    );
    check(
      JSON.stringify(rounds) === JSON.stringify(model.closedRounds),
      `${where}: rounds ${JSON.stringify(status.recentRounds)}, model ${JSON.stringify(model.closedRounds)}`,
    );
    check(
      status.recentRounds.every((r) => r.durationMs <= TIMEOUT_MS && r.gradients >= 1),
      `${where}: a round closed late or empty`,
    );
    check(
      model.round === null || model.now - model.round.openedAt < TIMEOUT_MS,
      `${where}: the open round is past its deadline`,
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
    check(log.violations.length === 0, `${where}: ${log.violations.join('; ')}`);
    for (const id of model.workers) {
      const size = coordinator.batchSizeFor(id);
      check(
        size === model.batchSizeFor(id),
        `${where}: batch ${size} for ${id}, model ${model.batchSizeFor(id)}`,
      );
    }
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
    pushes.forEach((p, index) => {
      const { state, value, error } = p.outcome;
      const expected = p.expected;
      const got = `${state} ${state === 'rejected' ? codeOfError(error) : JSON.stringify(value)}`;
      if (expected.kind === 'refused') {
        check(
          state === 'rejected' && expected.codes.includes(codeOfError(error)),
          `${where}: push ${index} (${p.pushId}) ${got}, model ${expected.codes.join(' or ')}`,
        );
        return;
      }
      const first = expected.kind === 'duplicate' ? expected.of : index;
      const step = model.pushResults.get(first);
      if (step === undefined) {
        check(state === 'pending', `${where}: push ${index} (${p.pushId}) ${got} before its round closed`);
        return;
      }
      const reply: PushResult =
        expected.kind === 'duplicate'
          ? { globalStep: step, staleness: 0, duplicate: true }
          : { globalStep: step, staleness: 0 };
      check(
        state === 'resolved' && JSON.stringify(value) === JSON.stringify(reply),
        `${where}: push ${index} (${p.pushId}) ${got}, model ${JSON.stringify(reply)}`,
      );
    });
    // Leases: every unit of every started epoch is completed, leased, or back in the pool.
    check(model.leaseProblems.length === 0, `${where}: ${model.leaseProblems.join('; ')}`);
    check(
      hub.units.leasedCount === model.leases.size,
      `${where}: ${hub.units.leasedCount} units leased, model ${model.leases.size}`,
    );
    check(hub.units.completedUnits === model.completed.size, `${where}: completed units`);
    check(
      hub.units.leasedCount + hub.units.pooledCount + hub.units.completedUnits ===
        model.epochsStarted * hub.units.unitsPerEpoch,
      `${where}: a unit was lost or duplicated`,
    );
  };

  const sendPush = (id: string, pushId: string, round: number | undefined, values: Float32Array) => {
    const examples = 1 + Math.floor(random() * 64);
    const computeMs = random() < 0.8 ? 1 + Math.floor(random() * 400) : undefined;
    const loss = random();
    const index = pushes.length;
    const expected = model.push(id, index, pushId, round, values, examples, computeMs);
    // Its own buffer: the shard log tells pushes apart by buffer, so a resend is not the first push.
    const request = push(Float32Array.from(values), { round, examples, loss, pushId, computeMs, worker: id });
    pushes.push({
      worker: id,
      pushId,
      round,
      values,
      examples,
      expected,
      outcome: track(coordinator.push(id, request)),
    });
    if (expected.kind === 'accepted') {
      lastPushed.set(id, round);
      // A worker pushes once per pull; its next fresh push pulls again (or guesses the open round).
      pulledRound.delete(id);
    }
    return `push ${id} ${pushId} round ${round} -> ${expected.kind === 'refused' ? expected.codes.join('|') : expected.kind}`;
  };

  const join = () => {
    const id = coordinator.join({ backend: 'wasm' });
    model.join(id);
    held.set(id, []);
    return id;
  };

  const leave = async (id: string) => {
    coordinator.leave(id);
    model.leave(id);
    held.delete(id);
    pulledRound.delete(id);
    gone.push(id);
    // The round the leave closed opens its successor once the shards answer: before any later message.
    await flush();
    const pull = pulls.get(id);
    if (pull) {
      check(
        pull.state === 'rejected' && codeOfError(pull.error) === ErrorCode.NotRegistered,
        `leave ${id}: its pull ${pull.state}`,
      );
      pulls.delete(id);
    }
  };

  let nextPushId = 1;
  const history: string[] = [];
  const ops = 40 + Math.floor(random() * 60);
  for (let step = 0; step < ops; step++) {
    const workers = [...model.workers];
    const r = random();
    let what: string;
    if (workers.length === 0 || (r < 0.1 && workers.length < 5)) {
      what = `join ${join()}`;
    } else if (r < 0.16) {
      const id = pick(workers);
      await leave(id);
      what = `leave ${id}`;
    } else if (r < 0.2) {
      // A reconnect: the connection drops, the client says hello again and resends its last push.
      const old = pick(workers);
      const last = pushes.findLast((p) => p.worker === old);
      await leave(old);
      const id = join();
      what = `reconnect ${old} as ${id}`;
      if (last) what += `, ${sendPush(id, last.pushId, last.round, last.values)}`;
    } else if (r < 0.33) {
      const id = pick(workers);
      what = `pull ${id}`;
      if (!pulls.has(id)) {
        const now = model.roundFor(id);
        pulls.set(id, track(coordinator.roundFor(id)));
        if (now !== null) model.pullResults.set(id, now);
      }
    } else if (r < 0.62) {
      const id = pick(workers);
      const kind = random();
      const fresh = (round: number | undefined) =>
        sendPush(id, `p${nextPushId++}`, round, gradient(seed * 1000 + step));
      if (kind < 0.55) what = fresh(pulledRound.get(id) ?? model.round?.id);
      else if (kind < 0.65)
        what = fresh(lastPushed.get(id)); // a second gradient for a round
      else if (kind < 0.72) what = fresh(Math.max(0, (model.round?.id ?? 0) - 1 - Math.floor(random() * 2)));
      else if (kind < 0.77) what = fresh((model.round?.id ?? 0) + 1);
      else if (kind < 0.8) what = fresh(undefined);
      else {
        // A retried push id: mostly the worker's own (a lost ack), else anyone's.
        const own = pushes.filter((p) => p.worker === id);
        const earlier =
          own.length > 0 && random() < 0.7 ? pick(own) : pushes.length > 0 ? pick(pushes) : null;
        what = earlier
          ? `retry: ${sendPush(id, earlier.pushId, earlier.round, earlier.values)}`
          : fresh(model.round?.id);
      }
    } else if (r < 0.65 && gone.length > 0) {
      // The old connection's push arriving after its worker left: refused before the ledger sees it.
      const id = pick(gone);
      const values = gradient(seed * 1000 + step);
      pushes.push({
        worker: id,
        pushId: `p${nextPushId}`,
        round: model.round?.id,
        values,
        examples: 10,
        expected: { kind: 'refused', codes: [ErrorCode.NotRegistered] },
        outcome: track(
          coordinator.push(id, push(values, { round: model.round?.id, pushId: `p${nextPushId++}` })),
        ),
      });
      what = `push from ${id}, gone`;
    } else if (r < 0.78) {
      const ms = random() < 0.3 ? TIMEOUT_MS : 1 + Math.floor(random() * TIMEOUT_MS * 1.5);
      await vi.advanceTimersByTimeAsync(ms);
      model.advance(ms);
      what = `advance ${ms} ms`;
    } else if (r < 0.83) {
      const id = pick(workers);
      check(coordinator.touch(id), `touch ${id} refused`);
      model.touch(id);
      what = `touch ${id}`;
    } else if (r < 0.92) {
      // As the gateway does: the message renews the worker's leases, then leases a unit.
      const id = pick(workers);
      coordinator.touch(id);
      model.touch(id);
      const unit = coordinator.leaseUnit(id);
      model.lease(id, unit);
      held.get(id)!.push(unit);
      what = `lease ${id} ${unit.unitId}`;
    } else {
      const id = pick(workers);
      const mine = held.get(id)!;
      const unitId =
        mine.length > 0 && random() < 0.8
          ? mine.splice(Math.floor(random() * mine.length), 1)[0].unitId
          : 10_000;
      coordinator.touch(id);
      model.touch(id);
      const expected = model.completeUnit(id, unitId);
      let code: string | null = null;
      try {
        coordinator.completeUnit(id, unitId);
      } catch (error) {
        code = codeOfError(error);
      }
      check(code === expected, `complete ${id} ${unitId} gave ${code}, model ${expected}`);
      what = `complete ${id} ${unitId} -> ${code ?? 'ok'}`;
    }
    await flush();
    history.push(`${step}: ${what}`);
    checkAfter(history, () => checkState(`step ${step} (${what})`));
  }

  // Let every deadline pass; then every accepted push has been applied exactly once.
  await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
  model.advance(TIMEOUT_MS);
  await flush();
  checkState('final deadline');
  const accepted = pushes.filter((p) => p.expected.kind === 'accepted');
  check(
    accepted.every((p) => p.outcome.state === 'resolved'),
    'an accepted push never got its reply',
  );
  const applied = log.appliedPushIds().sort();
  check(log.violations.length === 0, log.violations.join('; '));
  const acceptedIds = accepted.map((p) => p.pushId).sort();
  check(
    JSON.stringify(applied) === JSON.stringify(acceptedIds),
    `applied push ids ${applied}, accepted ${acceptedIds}`,
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

interface ConcurrentFuzzOptions {
  readonly replicasToAggregate?: number;
  /**
   * Check that a round never averages more than replicasToAggregate gradients. Off by default while
   * the bug it finds is open (see fuzz-regressions/coordinatorSeeds.ts).
   */
  readonly strictReplicas?: boolean;
}

/**
 * Concurrent variant: several operations are issued in one turn before any continuation runs (as
 * with shards in other processes), some of them resending a push id already in flight. Only
 * invariants, no exact model: the step never goes back, shard versions equal the step, the shard
 * log's invariants hold, no push id is applied twice, a duplicate gets its first push's outcome,
 * and once every round has closed the applied gradients are exactly the accepted ones.
 */
async function fuzzSyncConcurrentOnce(seed: number, options: ConcurrentFuzzOptions = {}): Promise<void> {
  const random = mulberry32(seed);
  const pick = picker(random);
  const replicas = options.replicasToAggregate;
  const log = new SyncShardLog(options.strictReplicas ? replicas : undefined);
  const hub = makeHub('sync', {
    replicasToAggregate: replicas,
    onAsk: (shard, message) => log.record(shard, message),
  });
  const coordinator = hub.coordinator;
  const workers: string[] = [];
  const sent: { pushId: string; examples: number; g: Float32Array; outcome: Tracked<PushResult> }[] = [];
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
        const earlier = sent.length > 0 && r < 0.4 ? pick(sent) : null;
        // A resend carries its first push's id and values, from whichever worker (a reconnect).
        const g = earlier ? Float32Array.from(earlier.g) : gradient(seed * 1000 + batch * 10 + k);
        const pushId = earlier?.pushId ?? `c${seed}-${batch}-${k}`;
        // Equal batches: a round's example-weighted mean is then its plain mean, so the weights end
        // at minus the sum of the applied gradients whichever round each landed in.
        const examples = 16;
        const round = coordinator.status().round ?? undefined;
        const outcome = track(coordinator.push(id, push(g, { round, examples, pushId, worker: id })));
        sent.push({ pushId, examples, g, outcome });
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
    check(log.violations.length === 0, `batch ${batch}: ${log.violations.join('; ')}`);
  }
  await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
  await flush();
  check(
    sent.every((p) => p.outcome.state !== 'pending'),
    'a push never got its reply',
  );
  const firsts = new Map<string, PushResult>();
  for (const p of sent) {
    const value = p.outcome.value;
    if (p.outcome.state !== 'resolved' || !value || value.duplicate) continue;
    check(!firsts.has(p.pushId), `push id ${p.pushId} was accepted twice`);
    firsts.set(p.pushId, value);
  }
  for (const p of sent) {
    const value = p.outcome.value;
    if (p.outcome.state !== 'resolved' || !value?.duplicate) continue;
    check(
      firsts.get(p.pushId)?.globalStep === value.globalStep,
      `duplicate of ${p.pushId} got step ${value.globalStep}, the first ${firsts.get(p.pushId)?.globalStep}`,
    );
  }
  const ok = sent.filter((p) => p.outcome.state === 'resolved' && !p.outcome.value?.duplicate);
  const applied = log.appliedPushIds().sort();
  check(log.violations.length === 0, log.violations.join('; '));
  check(
    JSON.stringify(applied) === JSON.stringify(ok.map((p) => p.pushId).sort()),
    `applied push ids ${applied}, accepted ${ok.map((p) => p.pushId)}`,
  );
  const status = coordinator.status();
  const examples = ok.reduce((n, p) => n + p.examples, 0);
  check(status.examplesSeen === examples, `examplesSeen ${status.examplesSeen}, accepted ${examples}`);
  check(
    status.pushesAccepted === ok.length,
    `pushesAccepted ${status.pushesAccepted}, accepted ${ok.length}`,
  );
  check(
    status.recentRounds.every((r) => r.durationMs <= TIMEOUT_MS),
    `a round waited past its deadline`,
  );
  const expected = neg(sum(...ok.map((p) => p.g)));
  const weights = weightsOf(hub);
  check(
    weights.every((w, i) => Math.abs(w - expected[i]) < 1e-3),
    `weights ${weights}, expected ${expected}`,
  );
  coordinator.close();
}

/**
 * Shards answering late: every shard message waits until the fuzz delivers it, shards in a seeded
 * order, while workers join, leave, reconnect and resend, pull, push and deadlines pass. Invariants
 * only: the step never goes back and never runs ahead of the shards, the shard log's invariants hold,
 * every push is answered once the shards have answered, a duplicate gets its first push's outcome,
 * the applied gradients are exactly the accepted ones, and the weights are their example-weighted
 * round means x count.
 */
async function fuzzSyncSlowOnce(seed: number, options: ConcurrentFuzzOptions = {}): Promise<void> {
  const random = mulberry32(seed);
  const pick = picker(random);
  const replicas = options.replicasToAggregate;
  const log = new SyncShardLog(options.strictReplicas ? replicas : undefined);
  const hub = makeHub('sync', {
    replicasToAggregate: replicas,
    shardTiming: 'onDeliver',
    onAsk: (shard, message) => log.record(shard, message),
  });
  const coordinator = hub.coordinator;
  const workers: string[] = [];
  const pulls = new Map<string, Tracked<number | undefined>>();
  const pulled = new Map<string, number>();
  const sent: {
    worker: string;
    pushId: string;
    round: number | undefined;
    examples: number;
    g: Float32Array;
    outcome: Tracked<PushResult>;
  }[] = [];
  let lastStep = 0;

  const send = (id: string, pushId: string, round: number | undefined, g: Float32Array) => {
    const examples = 1 + Math.floor(random() * 32);
    const request = push(Float32Array.from(g), { round, examples, pushId, worker: id });
    sent.push({ worker: id, pushId, round, examples, g, outcome: track(coordinator.push(id, request)) });
  };
  const checkStep = (where: string) => {
    const step = coordinator.status().globalStep;
    check(step >= lastStep, `${where}: global step went back ${lastStep} -> ${step}`);
    lastStep = step;
    const versions = versionsOf(hub);
    check(
      versions.every((v) => v >= step),
      `${where}: global step ${step} ahead of shard versions ${versions}`,
    );
    check(log.violations.length === 0, `${where}: ${log.violations.join('; ')}`);
    for (const [id, pull] of pulls) {
      if (pull.state === 'pending') continue;
      if (pull.state === 'resolved') pulled.set(id, pull.value!);
      pulls.delete(id);
    }
  };

  let nextPushId = 1;
  const ops = 40 + Math.floor(random() * 60);
  for (let step = 0; step < ops; step++) {
    const r = random();
    if (workers.length === 0 || (r < 0.1 && workers.length < 5)) {
      workers.push(coordinator.join({ backend: 'wasm' }));
    } else if (r < 0.16) {
      const id = workers.splice(Math.floor(random() * workers.length), 1)[0];
      coordinator.leave(id);
      pulled.delete(id);
    } else if (r < 0.2) {
      // A reconnect: leave, hello again under a new id, resend the last push.
      const old = workers.splice(Math.floor(random() * workers.length), 1)[0];
      const last = sent.findLast((p) => p.worker === old);
      coordinator.leave(old);
      pulled.delete(old);
      await flush();
      const id = coordinator.join({ backend: 'wasm' });
      workers.push(id);
      if (last) send(id, last.pushId, last.round, last.g);
    } else if (r < 0.3) {
      const id = pick(workers);
      if (!pulls.has(id)) pulls.set(id, track(coordinator.roundFor(id)));
    } else if (r < 0.55) {
      const id = pick(workers);
      const round = pulled.get(id) ?? coordinator.status().round ?? undefined;
      pulled.delete(id);
      send(id, `s${nextPushId++}`, round, gradient(seed * 1000 + step));
    } else if (r < 0.63 && sent.length > 0) {
      const earlier = pick(sent);
      send(pick(workers), earlier.pushId, earlier.round, earlier.g);
    } else if (r < 0.9) {
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) await deliverOne(hub, pick);
    } else {
      await vi.advanceTimersByTimeAsync(1 + Math.floor(random() * TIMEOUT_MS));
    }
    await flush();
    checkStep(`step ${step}`);
  }

  // Let the shards answer everything and every deadline pass, twice (a closed round opens the next).
  for (let pass = 0; pass < 3; pass++) {
    while (await deliverOne(hub, pick));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await flush();
  }
  checkStep('after the shards answered');
  check(
    sent.every((p) => p.outcome.state !== 'pending'),
    `a push never got its reply: ${sent.filter((p) => p.outcome.state === 'pending').map((p) => p.pushId)}`,
  );
  const firsts = new Map<string, (typeof sent)[number]>();
  for (const p of sent) {
    const value = p.outcome.value;
    if (p.outcome.state !== 'resolved' || !value || value.duplicate) continue;
    check(!firsts.has(p.pushId), `push id ${p.pushId} was accepted twice`);
    firsts.set(p.pushId, p);
  }
  for (const p of sent) {
    const value = p.outcome.value;
    if (p.outcome.state !== 'resolved' || !value?.duplicate) continue;
    const first = firsts.get(p.pushId)?.outcome.value;
    check(
      first?.globalStep === value.globalStep,
      `duplicate of ${p.pushId} got step ${value.globalStep}, the first ${first?.globalStep}`,
    );
  }
  const applied = log.appliedPushIds();
  check(log.violations.length === 0, log.violations.join('; '));
  check(
    JSON.stringify([...applied].sort()) === JSON.stringify([...firsts.keys()].sort()),
    `applied push ids ${applied}, accepted ${[...firsts.keys()]}`,
  );
  const status = coordinator.status();
  const versions = versionsOf(hub);
  check(
    versions.every((v) => v === status.globalStep && v === log.applied[0].length),
    `shard versions ${versions}, global step ${status.globalStep}, rounds applied ${log.applied[0].length}`,
  );
  const examples = [...firsts.values()].reduce((n, p) => n + p.examples, 0);
  check(status.examplesSeen === examples, `examplesSeen ${status.examplesSeen}, accepted ${examples}`);
  check(
    status.pushesAccepted === firsts.size,
    `pushesAccepted ${status.pushesAccepted}, accepted ${firsts.size}`,
  );
  // sgd, rate 1: each round moves the weights by minus its example-weighted mean x its count.
  const expected = new Float64Array(TOTAL);
  for (const { pushIds } of log.applied[0]) {
    const gradients = pushIds.map((id) => firsts.get(id)!);
    const total = gradients.reduce((n, p) => n + p.examples, 0);
    for (const p of gradients)
      for (let i = 0; i < TOTAL; i++) expected[i] -= (pushIds.length * p.examples * p.g[i]) / total;
  }
  const weights = weightsOf(hub);
  check(
    weights.every((w, i) => Math.abs(w - expected[i]) < 1e-3),
    `weights ${weights}, expected ${Array.from(expected)}`,
  );
  coordinator.close();
}

/** After each seed, passed or failed: no fake timer of one run fires in the next. */
const clearTimers = () => vi.clearAllTimers();

describe('Coordinator, sync mode, seeded fuzz', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  for (const replicas of [undefined, 1, 2, 3]) {
    const label = `replicasToAggregate ${replicas ?? 'unset'}`;
    it(`sequential join / leave / reconnect / pull / push / retry / deadline / leases match the model (${label})`, async () => {
      await runSeeds(
        `sync fuzz (${label})`,
        seedRange(SYNC_SEEDS),
        (seed) => fuzzSyncOnce(seed, { replicasToAggregate: replicas }),
        clearTimers,
      );
    });
  }

  for (const replicas of [undefined, 1, 2, 3]) {
    const label = `replicasToAggregate ${replicas ?? 'unset'}`;
    it(`concurrent operations keep the invariants (${label})`, async () => {
      await runSeeds(
        `concurrent sync fuzz (${label})`,
        seedRange(CONCURRENT_SEEDS),
        (seed) => fuzzSyncConcurrentOnce(seed, { replicasToAggregate: replicas }),
        clearTimers,
      );
    });
  }

  for (const replicas of [undefined, 1, 2]) {
    const label = `replicasToAggregate ${replicas ?? 'unset'}`;
    it(`shards answering late, in any order, keep the invariants (${label})`, async () => {
      await runSeeds(
        `slow-shard sync fuzz (${label})`,
        seedRange(SLOW_SEEDS),
        (seed) => fuzzSyncSlowOnce(seed, { replicasToAggregate: replicas }),
        clearTimers,
      );
    });
  }

  const fuzzes = { sync: fuzzSyncOnce, syncConcurrent: fuzzSyncConcurrentOnce, syncSlow: fuzzSyncSlowOnce };
  for (const entry of COORDINATOR_FUZZ_REGRESSIONS) {
    if (entry.fuzz === 'async') continue; // replayed by Coordinator.churn.test.ts
    const fuzz = fuzzes[entry.fuzz];
    const title = `regression: ${entry.fuzz} seed ${entry.seed}: ${entry.open ?? entry.found}`;
    (entry.open ? it.fails : it)(title, async () => {
      const options = { replicasToAggregate: entry.replicasToAggregate, strictReplicas: true };
      await runSeeds(`${entry.fuzz} regression`, [entry.seed], (seed) => fuzz(seed, options), clearTimers);
    });
  }
});
