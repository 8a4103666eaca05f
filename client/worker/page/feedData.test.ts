import { describe, expect, it } from 'vitest';
import { findStanding, parseVolunteers, withEvaluation } from './feedData.js';

const row = (volunteer: string, rank: number, examples: number, share: number) => ({
  volunteer,
  name: null,
  examples,
  pushes: examples / 64,
  verified: 1,
  share,
  rank,
  online: 1,
  lastSeen: 0,
});

describe('the volunteer board', () => {
  it('finds this volunteer by the name the hub gave it', () => {
    const rows = parseVolunteers([row('v-aaa', 1, 6400, 0.8), row('v-bbb', 2, 1600, 0.2), { junk: true }]);
    expect(rows).toHaveLength(2);
    expect(findStanding(rows, 'v-bbb')).toEqual({ row: rows[1], of: 2 });
    expect(findStanding(rows, 'v-ccc')).toBeNull();
    expect(findStanding(rows, null)).toBeNull();
    expect(parseVolunteers({ error: 'x' })).toEqual([]);
  });
});

describe('the accuracy curve', () => {
  const status = (at: number, examplesSeen: number, testAccuracy: number | null) => ({
    testAccuracy,
    evaluation: testAccuracy === null ? null : { at, examplesSeen, globalStep: 1, examples: 2000 },
  });

  it('adds each new evaluation once, and starts again after a reset', () => {
    let points = withEvaluation([], status(0, 0, null));
    expect(points).toEqual([]);
    points = withEvaluation(points, status(1_000, 6_400, 0.5));
    const same = withEvaluation(points, status(1_000, 6_400, 0.5));
    expect(same).toBe(points);
    points = withEvaluation(points, status(6_000, 12_800, 0.8));
    expect(points.map((p) => p.accuracy)).toEqual([0.5, 0.8]);
    points = withEvaluation(points, status(9_000, 640, 0.2));
    expect(points).toEqual([{ at: 9_000, examplesSeen: 640, accuracy: 0.2 }]);
  });
});
