import { describe, expect, it } from 'vitest';
import { DutyCycle, MAX_REST_MS, restToReach } from './dutyCycle.js';
import { DutyPacer } from './DutyPacer.js';

describe('restToReach', () => {
  it('is the rest that makes work the given share of the time', () => {
    expect(restToReach(100, 0, 0.25)).toBe(300);
    expect(restToReach(100, 0, 0.5)).toBe(100);
    expect(restToReach(100, 50, 0.5)).toBe(50);
    expect(restToReach(100, 300, 0.25)).toBe(0);
    expect(restToReach(100, 1_000, 0.25)).toBe(0);
  });

  it('never rests at 100% (or for a share that makes no sense)', () => {
    expect(restToReach(100, 0, 1)).toBe(0);
    expect(restToReach(100, 0, 0)).toBe(0);
    expect(restToReach(100, 0, Number.NaN)).toBe(0);
  });
});

/** Runs the cycle on a simulated clock: work of `stepMs(i)`, rest of what it says plus `oversleep`. */
function simulate(share: number, totalMs: number, stepMs: (i: number) => number, oversleep = 0) {
  let now = 0;
  const cycle = new DutyCycle(now);
  let busy = 0;
  for (let i = 0; now < totalMs; i++) {
    const step = stepMs(i);
    now += step;
    busy += step;
    const rest = cycle.workEnded(now, share);
    now += rest + oversleep;
    cycle.workStarts(now);
  }
  return { busyShare: busy / now, cycle, now };
}

describe('DutyCycle', () => {
  it('keeps work at the share over a run of equal steps', () => {
    for (const share of [0.1, 0.25, 0.5, 0.75]) {
      expect(simulate(share, 20_000, () => 100).busyShare).toBeCloseTo(share, 2);
    }
  });

  it('keeps the share with uneven steps and a timer that oversleeps', () => {
    // Steps of 20..380 ms in a fixed pattern, each rest 15 ms longer than asked (timer slack, the yield).
    const { busyShare, cycle, now } = simulate(0.25, 30_000, (i) => 20 + ((i * 97) % 361), 15);
    expect(busyShare).toBeGreaterThan(0.23);
    expect(busyShare).toBeLessThan(0.27);
    expect(cycle.measuredShare(now)).toBeGreaterThan(0.2);
    expect(cycle.measuredShare(now)).toBeLessThan(0.3);
  });

  it('pays for a step longer than the window in full, up to the longest rest', () => {
    const cycle = new DutyCycle(0, 5_000);
    expect(cycle.workEnded(4_000, 0.25)).toBe(12_000);
    cycle.workStarts(16_000);
    // 8 s of work at 25% would need 24 s of rest: capped, so a unit's lease is not lost meanwhile.
    expect(cycle.workEnded(24_000, 0.25)).toBe(MAX_REST_MS);
  });

  it('counts rest already taken (a slow yield, a pause) against the next one', () => {
    const cycle = new DutyCycle(0, 5_000);
    expect(cycle.workEnded(100, 0.5)).toBe(100);
    cycle.workStarts(1_100); // rested 1 s instead of 0.1 s
    expect(cycle.workEnded(1_200, 0.5)).toBe(0);
  });

  it('forgets the past at restart (a new connection), and does not pace the joining', () => {
    const cycle = new DutyCycle(0, 5_000);
    cycle.workEnded(1_000, 0.5);
    cycle.workStarts(1_000);
    cycle.restart(60_000);
    // Hello, known-answer check, first download: 2 s, then the first step's end. No rest for that.
    expect(cycle.workEnded(62_000, 0.5)).toBe(0);
    cycle.workStarts(62_000);
    expect(cycle.workEnded(62_100, 0.5)).toBe(100);
  });

  it('does not rest at 100%', () => {
    expect(simulate(1, 5_000, () => 100).busyShare).toBe(1);
  });
});

describe('DutyPacer', () => {
  it('rests as the cycle says, then yields, and a rest ends early on interrupt', async () => {
    let now = 0;
    const waits: { ms: number; signal: AbortSignal }[] = [];
    let release = () => undefined as void;
    let yields = 0;
    const pacer = new DutyPacer({
      share: () => 0.25,
      now: () => now,
      wait: (ms, signal) => {
        waits.push({ ms, signal });
        return new Promise<void>((resolve) => {
          release = resolve;
          signal.addEventListener('abort', () => resolve());
        });
      },
      yieldToPage: async () => {
        yields++;
      },
    });
    now = 200;
    const first = pacer.between();
    expect(waits.map((w) => w.ms)).toEqual([600]);
    now = 800;
    release();
    await first;
    expect(yields).toBe(1);

    now = 1_000;
    const second = pacer.between();
    expect(waits[1].ms).toBe(600);
    pacer.interrupt();
    expect(waits[1].signal.aborted).toBe(true);
    await second;
    expect(yields).toBe(2);
    // The interrupted rest was short: the cycle measured it as taken, and asks for the rest of it now.
    now = 1_100;
    void pacer.between();
    expect(waits[2].ms).toBeGreaterThan(600);
  });

  it('does not wait at all at 100%', async () => {
    const pacer = new DutyPacer({
      share: () => 1,
      now: () => 0,
      wait: () => Promise.reject(new Error('no rest at 100%')),
      yieldToPage: async () => undefined,
    });
    await pacer.between();
  });
});
