import { describe, expect, it } from 'vitest';
import { layoutFromShapes, shardRanges } from '../../shared/layout.js';
import { GatheredWeights } from './GatheredWeights.js';
import { resolveSelection } from './selection.js';

const layout = layoutFromShapes([
  { name: 'a', shape: [6] },
  { name: 'b', shape: [4] },
  { name: 'c', shape: [5] },
]);
const shards = shardRanges(layout.totalLength, 2); // [0, 8) [8, 15)
const whole = resolveSelection({}, layout, shards);
const keysAC = resolveSelection({ keys: ['a', 'c'] }, layout, shards);

function snapshots(fill: number): Float32Array[] {
  return shards.map((s) => new Float32Array(s.length).fill(fill + s.index));
}

describe('GatheredWeights', () => {
  it('pulls of the same snapshots share one gathered copy; a new snapshot gathers afresh', () => {
    const gathered = new GatheredWeights(shards);
    const first = snapshots(1);
    const weights = gathered.gather(whole, first);
    expect(Array.from(weights)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]);
    expect(gathered.gather(whole, [...first])).toBe(weights);

    const moved = [first[0], new Float32Array(7).fill(9)];
    const after = gathered.gather(whole, moved);
    expect(after).not.toBe(weights);
    expect(Array.from(after.subarray(8))).toEqual([9, 9, 9, 9, 9, 9, 9]);
    // The copy handed out before is never written again.
    expect(Array.from(weights.subarray(8))).toEqual([2, 2, 2, 2, 2, 2, 2]);
  });

  it('keeps each selection apart, and only the most recent `capacity` of them', () => {
    const gathered = new GatheredWeights(shards, 1);
    const current = snapshots(1);
    const wholeWeights = gathered.gather(whole, current);
    const acWeights = gathered.gather(keysAC, current);
    expect(Array.from(acWeights)).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    // Capacity 1: the whole-model copy was dropped for the newer selection, so it is gathered again.
    expect(gathered.gather(whole, current)).not.toBe(wholeWeights);
  });
});
