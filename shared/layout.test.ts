import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from './random.js';
import {
  keyRanges,
  layoutFromShapes,
  layoutOfModel,
  piecesByShard,
  sameLayout,
  shardRanges,
  UnknownKeyError,
  type ParameterLayout,
  type ShardRange,
} from './layout.js';
import { buildModel, MODEL_NAMES, type ModelName } from './models.js';

describe('layoutFromShapes', () => {
  it('packs tensors back to back in the order given', () => {
    const layout = layoutFromShapes([
      { name: 'a/kernel', shape: [3, 4] },
      { name: 'a/bias', shape: [4] },
      { name: 'b/kernel', shape: [2, 2, 5] },
      { name: 'b/bias', shape: [1] },
    ]);
    expect(layout.tensors.map((t) => [t.name, t.offset, t.length])).toEqual([
      ['a/kernel', 0, 12],
      ['a/bias', 12, 4],
      ['b/kernel', 16, 20],
      ['b/bias', 36, 1],
    ]);
    expect(layout.totalLength).toBe(37);
    expect(layout.tensors[2].shape).toEqual([2, 2, 5]);
  });

  it('an empty model has length 0', () => {
    expect(layoutFromShapes([])).toEqual({ tensors: [], totalLength: 0 });
  });

  it.each([
    ['null', [null, 3]],
    ['zero', [0, 3]],
    ['negative', [-1]],
    ['fractional', [2.5]],
  ])('refuses a %s dimension', (_label, shape) => {
    expect(() => layoutFromShapes([{ name: 'x', shape }])).toThrow(/x has no fixed shape/);
  });
});

describe('sameLayout', () => {
  const base = layoutFromShapes([
    { name: 'a', shape: [2, 3] },
    { name: 'b', shape: [3] },
  ]);

  it('is true for an equal layout built separately', () => {
    expect(
      sameLayout(
        base,
        layoutFromShapes([
          { name: 'a', shape: [2, 3] },
          { name: 'b', shape: [3] },
        ]),
      ),
    ).toBe(true);
  });

  it.each([
    [
      'a renamed tensor',
      [
        { name: 'A', shape: [2, 3] },
        { name: 'b', shape: [3] },
      ],
    ],
    [
      'a transposed shape with the same length',
      [
        { name: 'a', shape: [3, 2] },
        { name: 'b', shape: [3] },
      ],
    ],
    [
      'a reshaped tensor with the same length',
      [
        { name: 'a', shape: [6] },
        { name: 'b', shape: [3] },
      ],
    ],
    [
      'swapped order',
      [
        { name: 'b', shape: [3] },
        { name: 'a', shape: [2, 3] },
      ],
    ],
    [
      'an extra tensor',
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [3] },
        { name: 'c', shape: [1] },
      ],
    ],
    ['a missing tensor', [{ name: 'a', shape: [2, 3] }]],
  ])('is false for %s', (_label, shapes) => {
    expect(sameLayout(base, layoutFromShapes(shapes))).toBe(false);
  });
});

describe('layoutOfModel', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const expected: Record<ModelName, { params: number; names: string[] }> = {
    mlp: { params: 101_770, names: ['dense1/kernel', 'dense1/bias', 'logits/kernel', 'logits/bias'] },
    cnn: {
      params: 5_994,
      names: ['conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias', 'logits/kernel', 'logits/bias'],
    },
    'deep-cnn': {
      params: 3_274_634,
      names: [
        'conv1/kernel',
        'conv1/bias',
        'conv2/kernel',
        'conv2/bias',
        'dense1/kernel',
        'dense1/bias',
        'logits/kernel',
        'logits/bias',
      ],
    },
  };

  it('covers every model in models.ts', () => {
    expect(Object.keys(expected).sort()).toEqual([...MODEL_NAMES].sort());
  });

  it.each(MODEL_NAMES)('%s: param count, names, contiguous slots; two builds agree', (name) => {
    const first = buildModel(name);
    const second = buildModel(name);
    try {
      const a = layoutOfModel(first);
      const b = layoutOfModel(second);
      expect(a.totalLength).toBe(expected[name].params);
      expect(a.totalLength).toBe(first.countParams());
      expect(a.tensors.map((t) => t.name)).toEqual(expected[name].names);
      let offset = 0;
      for (const slot of a.tensors) {
        expect(slot.offset).toBe(offset);
        expect(slot.length).toBe(slot.shape.reduce((x, y) => x * y, 1));
        offset += slot.length;
      }
      expect(offset).toBe(a.totalLength);
      // The second build's variables are uniquified by tf.layers (e.g. `conv1/kernel_1`); the layout
      // must use the original names so both builds agree.
      const uniqueNames = second.trainableWeights.map((w) => w.name);
      expect(uniqueNames).not.toEqual(first.trainableWeights.map((w) => w.name));
      expect(sameLayout(a, b)).toBe(true);
      expect(b.tensors.map((t) => t.name)).toEqual(expected[name].names);
    } finally {
      first.dispose();
      second.dispose();
    }
  });

  it('different models have different layouts', () => {
    const mlp = buildModel('mlp');
    const cnn = buildModel('cnn');
    try {
      expect(sameLayout(layoutOfModel(mlp), layoutOfModel(cnn))).toBe(false);
    } finally {
      mlp.dispose();
      cnn.dispose();
    }
  });
});

/** What is wrong with shardRanges(total, count), or null. Plain checks: this runs thousands of times. */
function shardRangesProblem(total: number, count: number): string | null {
  const ranges = shardRanges(total, count);
  if (ranges.length !== count) return `${ranges.length} ranges`;
  let offset = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (r.index !== i) return `range ${i} has index ${r.index}`;
    if (r.offset !== offset) return `range ${i} starts at ${r.offset}, expected ${offset}`;
    if (!(r.length >= 1)) return `range ${i} is empty`;
    // Near-equal, longer ranges first.
    const expected = Math.floor(total / count) + (i < total % count ? 1 : 0);
    if (r.length !== expected) return `range ${i} has length ${r.length}, expected ${expected}`;
    offset += r.length;
  }
  return offset === total ? null : `ranges cover ${offset} of ${total}`;
}

describe('shardRanges', () => {
  it('splits 10 into 3 as 4, 3, 3', () => {
    expect(shardRanges(10, 3)).toEqual([
      { index: 0, offset: 0, length: 4 },
      { index: 1, offset: 4, length: 3 },
      { index: 2, offset: 7, length: 3 },
    ]);
  });

  it('is contiguous, covering and near-equal for many (total, count) pairs', () => {
    const problems: string[] = [];
    const check = (total: number, count: number) => {
      const problem = shardRangesProblem(total, count);
      if (problem) problems.push(`shardRanges(${total}, ${count}): ${problem}`);
    };
    for (let total = 1; total <= 80; total++) {
      for (let count = 1; count <= total; count++) check(total, count);
    }
    for (const [total, count] of [
      [5_994, 1],
      [5_994, 7],
      [101_770, 16],
      [3_274_634, 3],
      [3_274_634, 1024],
    ]) {
      check(total, count);
    }
    expect(problems).toEqual([]);
  });

  it('count == total gives one float per shard', () => {
    expect(shardRanges(5, 5).map((r) => r.length)).toEqual([1, 1, 1, 1, 1]);
  });

  it.each([
    [10, 0],
    [10, -1],
    [10, 1.5],
    [10, NaN],
  ])('refuses shardRanges(%d, %d)', (total, count) => {
    expect(() => shardRanges(total, count)).toThrow(/positive integer/);
  });

  it.each([
    [3, 4],
    [0, 1],
  ])('refuses more shards than floats: shardRanges(%d, %d)', (total, count) => {
    expect(() => shardRanges(total, count)).toThrow(/cannot split/);
  });
});

describe('keyRanges', () => {
  const layout: ParameterLayout = layoutFromShapes([
    { name: 'a', shape: [2] },
    { name: 'b', shape: [3] },
    { name: 'c', shape: [4] },
  ]);

  it('returns the slots in the order asked', () => {
    expect(keyRanges(layout, ['c', 'a']).map((s) => [s.name, s.offset, s.length])).toEqual([
      ['c', 5, 4],
      ['a', 0, 2],
    ]);
  });

  it('throws UnknownKeyError naming the key', () => {
    let caught: unknown;
    try {
      keyRanges(layout, ['a', 'nope']);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnknownKeyError);
    expect((caught as UnknownKeyError).key).toBe('nope');
    expect((caught as Error).message).toContain('nope');
  });

  it('does not match inherited object properties', () => {
    expect(() => keyRanges(layout, ['constructor'])).toThrow(UnknownKeyError);
  });
});

describe('piecesByShard', () => {
  const shards: ShardRange[] = shardRanges(10, 3); // [0,4) [4,7) [7,10)

  it('cuts a range that spans three shards', () => {
    expect(piecesByShard(shards, { offset: 2, length: 7 })).toEqual([
      { shard: 0, offset: 2, length: 2 },
      { shard: 1, offset: 4, length: 3 },
      { shard: 2, offset: 7, length: 2 },
    ]);
  });

  it('a range ending exactly at a boundary does not touch the next shard', () => {
    expect(piecesByShard(shards, { offset: 0, length: 4 })).toEqual([{ shard: 0, offset: 0, length: 4 }]);
    expect(piecesByShard(shards, { offset: 4, length: 3 })).toEqual([{ shard: 1, offset: 4, length: 3 }]);
  });

  it('an empty range has no pieces', () => {
    expect(piecesByShard(shards, { offset: 5, length: 0 })).toEqual([]);
  });

  it('property: pieces tile the range in order, each inside its shard (seeded)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = mulberry32(seed);
      const total = 1 + Math.floor(random() * 200);
      const count = 1 + Math.floor(random() * Math.min(total, 12));
      const ranges = shardRanges(total, count);
      const offset = Math.floor(random() * total);
      const length = Math.floor(random() * (total - offset + 1));
      const pieces = piecesByShard(ranges, { offset, length });
      try {
        let at = offset;
        let lastShard = -1;
        for (const piece of pieces) {
          expect(piece.offset).toBe(at);
          expect(piece.length).toBeGreaterThan(0);
          expect(piece.shard).toBeGreaterThan(lastShard);
          const shard = ranges[piece.shard];
          expect(piece.offset).toBeGreaterThanOrEqual(shard.offset);
          expect(piece.offset + piece.length).toBeLessThanOrEqual(shard.offset + shard.length);
          // Every float of the piece is owned by that shard and by no other.
          for (let f = piece.offset; f < piece.offset + piece.length; f++) {
            expect(
              ranges.filter((r) => f >= r.offset && f < r.offset + r.length).map((r) => r.index),
            ).toEqual([piece.shard]);
          }
          at += piece.length;
          lastShard = piece.shard;
        }
        expect(at).toBe(offset + length);
        // Consecutive pieces are in adjacent shards: no shard the range crosses is skipped.
        for (let i = 1; i < pieces.length; i++) expect(pieces[i].shard).toBe(pieces[i - 1].shard + 1);
      } catch (error) {
        throw new Error(
          `seed ${seed} (total ${total}, count ${count}, range ${offset}+${length}): ${error}`,
          { cause: error },
        );
      }
    }
  });
});
