import { expect, it } from 'vitest';
import { DownsampledHistory } from './DownsampledHistory.js';

it('keeps everything until full, then halves the resolution evenly, never exceeding capacity', () => {
  const history = new DownsampledHistory<number>(8);
  for (let i = 0; i < 8; i++) history.add(i);
  expect(history.all()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  history.add(8);
  expect(history.all()).toEqual([0, 2, 4, 6, 8]);
  for (let i = 9; i < 1000; i++) {
    history.add(i);
    expect(history.all().length).toBeLessThanOrEqual(8);
  }
  const points = history.all();
  // The whole run stays covered, from its first point, at an even stride.
  expect(points[0]).toBe(0);
  const gaps = new Set(points.slice(1).map((p, i) => p - points[i]));
  expect(gaps.size).toBe(1);
  expect(points.at(-1)).toBeGreaterThan(1000 - [...gaps][0] - 1);
});
