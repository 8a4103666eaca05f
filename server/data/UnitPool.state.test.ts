import { expect, it } from 'vitest';
import { UnitPool } from './UnitPool.js';

it('a restored pool hands out exactly what the original would have, leased units first', () => {
  const options = { totalExamples: 1000, unitSize: 64, seed: 9 };
  const original = new UnitPool(options);
  const done = [original.lease('a'), original.lease('a'), original.lease('b')];
  original.complete('a', done[0].unitId);
  const outstanding = original.lease('b');
  const restored = new UnitPool({ ...options, restore: original.state() });

  expect(restored.completedUnits).toBe(1);
  expect(restored.epochs).toBe(original.epochs);
  // Leased units were not finished: after a restart they come first, then the original's order.
  const fromRestored = Array.from({ length: 40 }, () => restored.lease('x').unitId);
  original.release('a');
  original.release('b');
  const fromOriginal = Array.from({ length: 40 }, () => original.lease('x').unitId);
  expect(new Set(fromRestored.slice(0, 3))).toEqual(
    new Set([done[1].unitId, done[2].unitId, outstanding.unitId]),
  );
  expect(fromRestored.slice(3)).toEqual(fromOriginal.slice(3));
});
