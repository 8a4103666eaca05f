import { describe, expect, it } from 'vitest';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { TrainingMode } from '../../shared/protocol.js';
import { UnitPool } from '../data/UnitPool.js';
import { createUpdateRule } from '../optimizers/updateRules.js';
import { Coordinator, type CoordinatorOptions, type GradientPush } from './Coordinator.js';
import { ShardActor, type ShardCheckpoint, type ShardMessage, type ShardReply } from './ShardActor.js';
import type { ShardRef } from './ShardRef.js';
import {
  codeOf,
  flush,
  gradient,
  makeHub,
  neg,
  push,
  ranges,
  TIMEOUT_MS,
  TOTAL,
  track,
  type PushOptions,
  type Tracked,
  versionsOf as harnessVersionsOf,
  weightsOf as harnessWeightsOf,
} from './testing/coordinatorHarness.js';

/**
 * A Coordinator on real shard actors, one of whose messages fails as when a shard process restarts
 * (or whose actor is replaced by one restored from its checkpoint): a round is applied on every
 * shard or on none, with exactly the pushes the run counts, and an async push reaches each shard at
 * most once, even through two coordinators. With sgd, learning rate 1, zero initial weights and 10
 * examples a push, a sync round moves the weights by minus the sum of its gradients, and a local
 * round with the `average` outer step by minus the mean of its changes: the tests compute those.
 */

/** A shard in process that fails the message a test names (SHARD_UNAVAILABLE, never delivered). */
class FaultyShard implements ShardRef {
  /** Every message the shard was asked, in order. */
  readonly asked: ShardMessage[] = [];
  private failing: ((message: ShardMessage) => boolean) | null = null;

  constructor(public actor: ShardActor) {}

  get index(): number {
    return this.actor.index;
  }

  /** The next message `matches` accepts is not delivered: it fails as a restarting process does. */
  failNext(matches: (message: ShardMessage) => boolean): void {
    this.failing = matches;
  }

  ask<M extends ShardMessage>(message: M): Promise<ShardReply<M>> {
    this.asked.push(message);
    if (this.failing?.(message)) {
      this.failing = null;
      return Promise.reject(new HubError(ErrorCode.ShardUnavailable, `shard ${this.index} is not answering`));
    }
    try {
      return Promise.resolve(this.actor.receive(message));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The shard's process restarted from its checkpoint: what it held of an open round is gone. */
  restartFromCheckpoint(): void {
    this.actor = sgdShard(this.index, this.actor.receive({ type: 'checkpoint' }));
  }
}

function sgdShard(index: number, restore?: ShardCheckpoint): ShardActor {
  return new ShardActor({
    index,
    offset: ranges[index].offset,
    initialWeights: restore?.weights ?? new Float32Array(ranges[index].length),
    rule: createUpdateRule('sgd'),
    learningRate: 1,
    restore,
  });
}

interface FaultyHub {
  readonly coordinator: Coordinator;
  readonly shards: FaultyShard[];
}

function faultyHub(mode: TrainingMode, extra: Partial<CoordinatorOptions> = {}): FaultyHub {
  const shards = ranges.map((range) => new FaultyShard(sgdShard(range.index)));
  return { shards, coordinator: coordinatorOn(mode, shards, extra) };
}

function coordinatorOn(
  mode: TrainingMode,
  shards: readonly ShardRef[],
  extra: Partial<CoordinatorOptions> = {},
): Coordinator {
  const units = new UnitPool({ totalExamples: 95, unitSize: 10, seed: 7 });
  return new Coordinator({ mode, shards, units, roundTimeoutMs: TIMEOUT_MS, ...extra });
}

function weightsOf(shards: readonly FaultyShard[]): number[] {
  return shards.flatMap((shard) => Array.from(shard.actor.receive({ type: 'pull' }).weights));
}

function versionsOf(shards: readonly FaultyShard[]): number[] {
  return shards.map((shard) => shard.actor.receive({ type: 'status' }).version);
}

const sum = (...gs: Float32Array[]) =>
  Float32Array.from({ length: TOTAL }, (_, i) => gs.reduce((s, g) => s + g[i], 0));

/** Fails the accumulate of `pushId` on this shard. */
const accumulateOf = (pushId: string) => (message: ShardMessage) =>
  message.type === 'accumulate' && message.contribution === pushId;

/** A local round's weight change (start minus end): what a worker pushes in local mode. */
function change(g: Float32Array, options: PushOptions): GradientPush {
  return { ...push(g, options), localSteps: 1 };
}

function expectAborted(pushes: Tracked<unknown>[], round: number, shards: string): void {
  for (const p of pushes) {
    expect(p.state).toBe('rejected');
    expect(p.error).toMatchObject({
      code: ErrorCode.RoundAborted,
      message: expect.stringMatching(
        new RegExp(`^round ${round} was not applied: shard\\(s\\) ${shards} did not hold all of its pushes`),
      ),
    });
  }
}

describe('Coordinator, sync mode, a shard failing mid-round: the round applies on every shard or none', () => {
  it("one shard's accumulate fails: no shard applies a mean with it, the round aborts, the next applies", async () => {
    const { coordinator, shards } = faultyHub('sync');
    const [a, b] = [0, 1].map(() => coordinator.join({ backend: 'wasm' }));
    const pa = track(coordinator.push(a, push(gradient(1), { round: 0, pushId: 'a-1' })));
    shards[2].failNext(accumulateOf('b-1'));
    // Shards 0 and 1 now hold b-1; shard 2 never got it, and the run does not count it.
    expect(await codeOf(coordinator.push(b, push(gradient(2), { round: 0, pushId: 'b-1' })))).toBe(
      ErrorCode.ShardUnavailable,
    );
    // The worker pulls again (the round still waits for it) and pushes a new gradient.
    expect(await coordinator.roundFor(b)).toBe(0);
    const pb = track(coordinator.push(b, push(gradient(3), { round: 0, pushId: 'b-2' })));
    await flush();
    expectAborted([pa, pb], 0, '0, 1');
    // Nothing applied anywhere, nothing counted, no round recorded as applied.
    expect(weightsOf(shards)).toEqual(new Array(TOTAL).fill(0));
    expect(versionsOf(shards)).toEqual([0, 0, 0]);
    expect(coordinator.status()).toMatchObject({ globalStep: 0, examplesSeen: 0, recentRounds: [] });
    for (const shard of shards) expect(shard.asked.map((m) => m.type)).toContain('dropRound');
    expect(
      shards.map((s) => s.actor.receive({ type: 'prepareRound', round: 0, contributions: [] }).have),
    ).toEqual([0, 0, 0]);

    // The next round, on the same weights, applies on every shard with exactly its two gradients.
    expect(await coordinator.roundFor(a)).toBe(1);
    const next = [
      track(coordinator.push(a, push(gradient(4), { round: 1 }))),
      track(coordinator.push(b, push(gradient(5), { round: 1 }))),
    ];
    await flush();
    for (const p of next) expect(p).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(weightsOf(shards)).toEqual(neg(sum(gradient(4), gradient(5))));
    expect(versionsOf(shards)).toEqual([1, 1, 1]);
    expect(coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 20 });
  });

  it('a retry under the same push id completes the round where it was missing: applied once everywhere', async () => {
    const { coordinator, shards } = faultyHub('sync');
    const [a, b] = [0, 1].map(() => coordinator.join({ backend: 'wasm' }));
    const pa = track(coordinator.push(a, push(gradient(1), { round: 0, pushId: 'a-1' })));
    shards[2].failNext(accumulateOf('b-1'));
    expect(await codeOf(coordinator.push(b, push(gradient(2), { round: 0, pushId: 'b-1' })))).toBe(
      ErrorCode.ShardUnavailable,
    );
    // HubClient resends a push under its id: shards 0 and 1 have it and do not add it again.
    const retry = await coordinator.push(b, push(gradient(2), { round: 0, pushId: 'b-1' }));
    await flush();
    expect(retry).toEqual({ globalStep: 1, staleness: 0 });
    expect(pa).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(weightsOf(shards)).toEqual(neg(sum(gradient(1), gradient(2))));
    expect(versionsOf(shards)).toEqual([1, 1, 1]);
    expect(coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 20 });
  });

  it('a shard restarted mid-round from its checkpoint (its sums lost): the round aborts on every shard', async () => {
    const { coordinator, shards } = faultyHub('sync');
    const [a, b] = [0, 1].map(() => coordinator.join({ backend: 'wasm' }));
    const pa = track(coordinator.push(a, push(gradient(1), { round: 0 })));
    await flush();
    shards[1].restartFromCheckpoint();
    const pb = track(coordinator.push(b, push(gradient(2), { round: 0 })));
    await flush();
    expectAborted([pa, pb], 0, '1');
    expect(weightsOf(shards)).toEqual(new Array(TOTAL).fill(0));
    expect(versionsOf(shards)).toEqual([0, 0, 0]);
    expect(await coordinator.roundFor(a)).toBe(1);
    const next = [
      track(coordinator.push(a, push(gradient(3), { round: 1 }))),
      track(coordinator.push(b, push(gradient(4), { round: 1 }))),
    ];
    await flush();
    for (const p of next) expect(p.state).toBe('resolved');
    expect(weightsOf(shards)).toEqual(neg(sum(gradient(3), gradient(4))));
    expect(versionsOf(shards)).toEqual([1, 1, 1]);
  });
});

describe('Coordinator, local mode, a shard failing mid-round', () => {
  const outer = { optimizer: 'average' } as const;

  it('local rounds: an accumulate failed on one shard aborts the round everywhere', async () => {
    const { coordinator, shards } = faultyHub('local', { outer });
    const [a, b] = [0, 1].map(() => coordinator.join({ backend: 'wasm' }));
    const pa = track(coordinator.push(a, change(gradient(1), { round: 0 })));
    shards[0].failNext(accumulateOf('b-1'));
    expect(await codeOf(coordinator.push(b, change(gradient(2), { round: 0, pushId: 'b-1' })))).toBe(
      ErrorCode.ShardUnavailable,
    );
    const pb = track(coordinator.push(b, change(gradient(3), { round: 0 })));
    await flush();
    expectAborted([pa, pb], 0, '1, 2');
    expect(weightsOf(shards)).toEqual(new Array(TOTAL).fill(0));
    expect(versionsOf(shards)).toEqual([0, 0, 0]);
    expect(coordinator.status().recentRounds).toEqual([]);
    const next = [
      track(coordinator.push(a, change(gradient(4), { round: 1 }))),
      track(coordinator.push(b, change(gradient(5), { round: 1 }))),
    ];
    await flush();
    for (const p of next) expect(p.state).toBe('resolved');
    // average: the weights move by minus the workers' mean change.
    expect(weightsOf(shards)).toEqual(neg(sum(gradient(4), gradient(5)).map((x) => x / 2)));
    expect(versionsOf(shards)).toEqual([1, 1, 1]);
  });

  it('buffered local: a buffer whose change one shard missed is applied nowhere', async () => {
    const { coordinator, shards } = faultyHub('local', { outer, bufferSize: 2 });
    const [a, b] = [0, 1].map(() => coordinator.join({ backend: 'wasm' }));
    const base = coordinator.status().round!;
    shards[2].failNext(accumulateOf('a-1'));
    expect(await codeOf(coordinator.push(a, change(gradient(1), { round: base, pushId: 'a-1' })))).toBe(
      ErrorCode.ShardUnavailable,
    );
    // The second change fills the buffer: shard 2 holds only it.
    const filling = coordinator.push(b, change(gradient(2), { round: base }));
    await expect(filling).rejects.toMatchObject({ code: ErrorCode.RoundAborted });
    expect(weightsOf(shards)).toEqual(new Array(TOTAL).fill(0));
    expect(versionsOf(shards)).toEqual([0, 0, 0]);
    const next = coordinator.status().round!;
    await coordinator.push(a, change(gradient(3), { round: next }));
    await coordinator.push(b, change(gradient(4), { round: next }));
    expect(weightsOf(shards)).toEqual(neg(sum(gradient(3), gradient(4)).map((x) => x / 2)));
    expect(versionsOf(shards)).toEqual([1, 1, 1]);
  });

  it('buffered local on shards that answer a turn later: the next change waits for the buffer before it', async () => {
    // As over NATS: a change of the next buffer sent between a buffer's prepare and its apply would
    // replace the shards' pending buffer, and the apply would be refused.
    const hub = makeHub('local', { outer, bufferSize: 1, shardTiming: 'nextMacrotask' });
    const [a, b] = [0, 1].map(() => hub.coordinator.join({ backend: 'wasm' }));
    const base = hub.coordinator.status().round!;
    const results = await Promise.all([
      hub.coordinator.push(a, change(gradient(1), { round: base })),
      hub.coordinator.push(b, change(gradient(2), { round: base })),
    ]);
    expect(results.map((r) => r.globalStep).sort()).toEqual([1, 2]);
    expect(harnessWeightsOf(hub)).toEqual(neg(sum(gradient(1), gradient(2))));
    expect(harnessVersionsOf(hub)).toEqual([2, 2, 2]);
  });
});

describe('Coordinator, async mode: a push reaches each shard at most once, across coordinators', () => {
  it('a push one coordinator applied to some shards only is applied to the rest once at the next, and counted once', async () => {
    const { coordinator: first, shards } = faultyHub('async');
    const w1 = first.join({ backend: 'wasm' });
    shards[1].failNext((message) => message.type === 'apply');
    expect(await codeOf(first.push(w1, push(gradient(1), { pushId: 'p-1' })))).toBe(
      ErrorCode.ShardUnavailable,
    );
    expect(versionsOf(shards)).toEqual([1, 0, 1]);

    // A standby takes over (nothing of the first one's memory) and the worker retries there.
    const second = coordinatorOn('async', shards);
    const w2 = second.join({ backend: 'wasm' });
    expect(await second.push(w2, push(gradient(1), { pushId: 'p-1' }))).toEqual({
      globalStep: 1,
      staleness: 0,
    });
    expect(weightsOf(shards)).toEqual(neg(gradient(1)));
    expect(versionsOf(shards)).toEqual([1, 1, 1]);
    expect(second.status()).toMatchObject({ globalStep: 1, examplesSeen: 10, pushesAccepted: 1 });

    // And another: every shard has it, so nothing is applied and nothing counted.
    const third = coordinatorOn('async', shards);
    const w3 = third.join({ backend: 'wasm' });
    expect(await third.push(w3, push(gradient(1), { pushId: 'p-1' }))).toEqual({
      globalStep: 0,
      staleness: 0,
      duplicate: true,
    });
    expect(weightsOf(shards)).toEqual(neg(gradient(1)));
    expect(versionsOf(shards)).toEqual([1, 1, 1]);
    expect(third.status()).toMatchObject({ globalStep: 0, examplesSeen: 0, pushesAccepted: 0 });
    expect(third.status().workers[0]).toMatchObject({ steps: 0, examples: 0 });
  });
});
