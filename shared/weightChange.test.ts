import { describe, expect, it } from 'vitest';

import { l2Norm, mergeDrift, weightChange } from './weightChange.js';

const f32 = (values: number[]) => Float32Array.from(values);

describe('weightChange', () => {
  it('is start minus end, float by float', () => {
    expect(weightChange(f32([1, 2, -3]), f32([0.5, 2.5, -3]))).toEqual(f32([0.5, -0.5, 0]));
  });

  it('refuses vectors of different lengths', () => {
    expect(() => weightChange(f32([1, 2]), f32([1]))).toThrow(RangeError);
    expect(() => mergeDrift(f32([1, 2]), f32([1, 2]), f32([1]))).toThrow(RangeError);
  });
});

describe('mergeDrift', () => {
  it('adds what was trained after the push to the next round weights', () => {
    // next + (current - atPush): [10 + (3 - 1), 20 + (2 - 4), 30 + (5 - 5)]
    expect(mergeDrift(f32([10, 20, 30]), f32([3, 2, 5]), f32([1, 4, 5]))).toEqual(f32([12, 18, 30]));
  });

  it('loses no step and counts none twice: the two changes add up to start - end', () => {
    // One worker, the mean change applied with outer lr 1 (FedAvg): the next round's weights are the
    // weights the worker pushed, so after the merge it trains on from exactly where it was.
    const start = f32([1, 2, 3, 4]);
    const atPush = f32([0.5, 2.25, 3, 3.5]);
    const current = f32([0.25, 2.5, 2.75, 3.5]); // after the overlapped steps
    const end = f32([0, 2.75, 2.5, 3.25]); // after the next round's remaining steps, from the merge
    const next = start.map((s, i) => s - weightChange(start, atPush)[i]);
    const merged = mergeDrift(next, current, atPush);
    expect(merged).toEqual(current);
    // The end weights are reached from `merged` by the same steps as from `current`.
    const first = weightChange(start, atPush);
    const second = weightChange(next, end);
    expect(first.map((c, i) => c + second[i])).toEqual(weightChange(start, end));
  });

  it("keeps the other workers' progress: the merged weights move with the next round weights", () => {
    const atPush = f32([1, 1]);
    const current = f32([0.5, 1.5]);
    const next = f32([3, -2]); // the round moved the weights by much more than this worker did
    expect(mergeDrift(next, current, atPush)).toEqual(f32([2.5, -1.5]));
  });
});

describe('l2Norm', () => {
  it('is the Euclidean norm', () => {
    expect(l2Norm(f32([3, 4]))).toBe(5);
    expect(l2Norm(f32([]))).toBe(0);
  });
});
