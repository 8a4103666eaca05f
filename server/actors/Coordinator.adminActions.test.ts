import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  codeOf,
  flush,
  gradient,
  makeHub,
  neg,
  push,
  ranges,
  TOTAL,
  track,
  versionsOf,
  weightsOf,
} from './testing/coordinatorHarness.js';

/** The operator's run-changing actions (mode switch, reset) on a coordinator with real shard actors. */
describe('Coordinator admin actions', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('async -> sync: a round opens for every worker, and a push without a round is refused as stale', async () => {
    const hub = makeHub('async');
    const [a, b] = [0, 1].map(() => hub.coordinator.join({ backend: 'wasm' }));
    await hub.coordinator.setMode('sync');
    expect(hub.coordinator.status()).toMatchObject({ mode: 'sync', round: 0 });
    expect(await codeOf(hub.coordinator.push(a, push(gradient(1))))).toBe('STALE_ROUND');
    await expect(hub.coordinator.roundFor(a)).resolves.toBe(0);
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0 })));
    const pb = track(hub.coordinator.push(b, push(gradient(2), { round: 0 })));
    await flush();
    expect(pa).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(pb.state).toBe('resolved');
  });

  it('sync -> async: the open round is applied with what it has; waiting pulls go on without a round', async () => {
    const hub = makeHub('sync');
    const [a, b] = [0, 1].map(() => hub.coordinator.join({ backend: 'wasm' }));
    const g = gradient(3);
    const pa = track(hub.coordinator.push(a, push(g, { round: 0 })));
    const waitingPull = track(hub.coordinator.roundFor(a));
    await flush();
    expect(pa.state).toBe('pending');
    await hub.coordinator.setMode('async');
    await flush();
    expect(pa).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(waitingPull).toMatchObject({ state: 'resolved', value: undefined });
    // One gradient of two, applied at lr x 1.
    expect(weightsOf(hub)).toEqual(neg(g));
    expect(hub.coordinator.status()).toMatchObject({ mode: 'async', round: null });
    await expect(hub.coordinator.roundFor(b)).resolves.toBeUndefined();
    // Async from here: applied on arrival, and no round opens on join or after a push.
    await hub.coordinator.push(b, push(gradient(4), { versions: versionsOf(hub) }));
    hub.coordinator.join({ backend: 'wasm' });
    expect(hub.coordinator.status()).toMatchObject({ globalStep: 2, round: null });
  });

  it('reset puts fresh weights in every shard, zeroes the counters and refuses gradients from before', async () => {
    const hub = makeHub('async');
    const a = hub.coordinator.join({ backend: 'wasm' });
    await hub.coordinator.push(a, push(gradient(5), { examples: 7 }));
    const oldVersions = versionsOf(hub);
    const fresh = Float32Array.from({ length: TOTAL }, (_, i) => i / 8);
    await hub.coordinator.reset((index) =>
      fresh.subarray(ranges[index].offset, ranges[index].offset + ranges[index].length),
    );
    expect(weightsOf(hub)).toEqual(Array.from(fresh));
    expect(hub.coordinator.status()).toMatchObject({
      globalStep: 0,
      examplesSeen: 0,
      pushesAccepted: 0,
      trainLoss: null,
    });
    expect(await codeOf(hub.coordinator.push(a, push(gradient(6), { versions: oldVersions })))).toBe(
      'TOO_STALE',
    );
    expect(weightsOf(hub)).toEqual(Array.from(fresh));
    await hub.coordinator.push(a, push(gradient(6), { versions: versionsOf(hub) }));
    expect(hub.coordinator.status().globalStep).toBe(1);
  });

  it('reset in sync mode drops the open round: its pushes are refused as stale and a new round opens', async () => {
    const hub = makeHub('sync');
    const [a] = [0, 1].map(() => hub.coordinator.join({ backend: 'wasm' }));
    const pa = track(hub.coordinator.push(a, push(gradient(7), { round: 0 })));
    await flush();
    await hub.coordinator.reset((index) => new Float32Array(ranges[index].length).fill(1));
    await flush();
    expect(pa).toMatchObject({ state: 'rejected' });
    expect(hub.coordinator.status()).toMatchObject({ round: 1, globalStep: 0 });
    // The dropped round's gradient never reached the weights.
    expect(weightsOf(hub)).toEqual(new Array(TOTAL).fill(1));
  });
});
