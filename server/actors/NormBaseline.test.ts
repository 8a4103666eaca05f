import { describe, expect, it } from 'vitest';
import { MAX_VOLUNTEER_SHARE, NormBaseline } from './NormBaseline.js';

describe('NormBaseline', () => {
  it('is Infinity until it holds minSamples norms, then median + threshold x spread', () => {
    const baseline = new NormBaseline(100);
    for (let i = 0; i < 7; i++) baseline.add(`v${i}`, 1);
    expect(baseline.upperLimit({ minSamples: 8 })).toBe(Infinity);
    baseline.add('v7', 1);
    // All equal: the spread is its floor, 5% of the median; threshold 6 gives 1.3.
    expect(baseline.upperLimit({ minSamples: 8 })).toBeCloseTo(1.3, 10);
  });

  it('keeps each volunteer to its share: at its share, a new norm replaces its own oldest', () => {
    const baseline = new NormBaseline(100);
    const share = 100 * MAX_VOLUNTEER_SHARE;
    for (let i = 0; i < 3 * share; i++) baseline.add('fast', 1 + i);
    expect(baseline.heldBy('fast')).toBe(share);
    expect(baseline.size).toBe(share);
    // What it holds are its latest norms: the baseline follows a volunteer's drift.
    expect(baseline.upperLimit({ minSamples: 1, threshold: 0 })).toBe(1 + 3 * share - share / 2 - 0.5);
  });

  it('holds at most `capacity` norms, the oldest going first', () => {
    const baseline = new NormBaseline(8);
    for (let i = 0; i < 20; i++) baseline.add(`v${i}`, i);
    expect(baseline.size).toBe(8);
    expect(baseline.heldBy('v11')).toBe(0);
    expect(baseline.heldBy('v12')).toBe(1);
  });

  it('refuses a norm that is not finite and >= 0', () => {
    const baseline = new NormBaseline();
    expect(() => baseline.add('v', NaN)).toThrow(RangeError);
    expect(() => baseline.add('v', -1)).toThrow(RangeError);
  });
});
