import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { codeOf, flush, gradient, makeHub, push, track } from './testing/coordinatorHarness.js';

/** The gradient screen (--clip-norm, --trust) inside the coordinator's rounds. */
describe('Coordinator with --trust, sync mode', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a participant whose gradient is refused is let off the round, which closes with the others', async () => {
    const hub = makeHub('sync', { screening: { trust: true, clipNorm: 20 } });
    const [a, b, c] = [0, 1, 2].map(() => hub.coordinator.join({ backend: 'wasm' }));
    const pa = track(hub.coordinator.push(a, push(gradient(1), { round: 0 })));
    const pb = track(hub.coordinator.push(b, push(gradient(2), { round: 0 })));
    await flush();
    expect(pa.state).toBe('pending');
    const huge = gradient(3).map((v) => v * 1000);
    expect(await codeOf(hub.coordinator.push(c, push(huge, { round: 0 })))).toBe('OUTLIER');
    await flush();
    expect(pa).toMatchObject({ state: 'resolved', value: { globalStep: 1 } });
    expect(pb.state).toBe('resolved');
    // It takes part again from the next round.
    await expect(hub.coordinator.roundFor(c)).resolves.toBe(1);
  });

  it('a worker refused as UNTRUSTED is no participant of later rounds', async () => {
    const hub = makeHub('sync', { screening: { trust: true, clipNorm: 20 } });
    const [a, bad] = [0, 1].map(() => hub.coordinator.join({ backend: 'wasm' }));
    const huge = gradient(4).map((v) => v * 1000);
    for (let round = 0; ; round++) {
      const pa = track(hub.coordinator.push(a, push(gradient(round + 10), { round })));
      const code = await codeOf(hub.coordinator.push(bad, push(huge, { round })));
      await flush();
      expect(pa.state).toBe('resolved');
      if (code === 'UNTRUSTED') break;
      expect(code).toBe('OUTLIER');
      expect(round).toBeLessThan(20);
    }
    const { round } = hub.coordinator.status();
    // The next round waits for the trusted worker only: its one gradient closes it.
    const pa = track(hub.coordinator.push(a, push(gradient(99), { round: round! })));
    await flush();
    expect(pa.state).toBe('resolved');
  });
});
