import { describe, expect, it } from 'vitest';
import { ErrorCode, HubError } from '../../shared/errors.js';
import { layoutFromShapes, shardRanges, type ParameterLayout, type ShardRange } from '../../shared/layout.js';
import { mulberry32 } from '../../shared/random.js';
import { gatherFromShards, resolveSelection, splitByShard, type Selection } from './selection.js';

// a: [0, 6) b: [6, 10) c: [10, 15) d: [15, 16) e: [16, 23)
const layout: ParameterLayout = layoutFromShapes([
  { name: 'a', shape: [2, 3] },
  { name: 'b', shape: [4] },
  { name: 'c', shape: [5] },
  { name: 'd', shape: [1] },
  { name: 'e', shape: [7] },
]);
const KEYS = layout.tensors.map((t) => t.name);

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof HubError) return error.code;
    throw error;
  }
  return undefined;
}

/** The shards' weights as the actors would hand them out: one copy per shard. */
function snapshotsOf(flat: Float32Array, shards: readonly ShardRange[]): Float32Array[] {
  return shards.map((s) => flat.slice(s.offset, s.offset + s.length));
}

/** The selected floats of `flat`, concatenated in selection order: what a pull must return. */
function expectedPayload(flat: Float32Array, selection: Selection): Float32Array {
  const out: number[] = [];
  for (const r of selection.ranges) out.push(...flat.subarray(r.offset, r.offset + r.length));
  return Float32Array.from(out);
}

describe('resolveSelection', () => {
  const shards = shardRanges(layout.totalLength, 3); // [0, 8) [8, 16) [16, 23)

  it('neither shards nor keys: everything, shard by shard', () => {
    const selection = resolveSelection({}, layout, shards);
    expect(selection.ranges.map((r) => [r.offset, r.length])).toEqual([
      [0, 8],
      [8, 8],
      [16, 7],
    ]);
    expect(selection.totalLength).toBe(23);
    expect(selection.coversAll).toBe(true);
  });

  it('shards: the named shards in the order named', () => {
    const selection = resolveSelection({ shards: [2, 0] }, layout, shards);
    expect(selection.ranges.map((r) => [r.offset, r.length])).toEqual([
      [16, 7],
      [0, 8],
    ]);
    expect(selection.totalLength).toBe(15);
    expect(selection.coversAll).toBe(false);
    expect(resolveSelection({ shards: [1, 2, 0] }, layout, shards).coversAll).toBe(true);
  });

  it('keys: the named tensors in the order named', () => {
    const selection = resolveSelection({ keys: ['e', 'b'] }, layout, shards);
    expect(selection.ranges.map((r) => [r.offset, r.length])).toEqual([
      [16, 7],
      [6, 4],
    ]);
    expect(selection.totalLength).toBe(11);
    expect(selection.coversAll).toBe(false);
    expect(resolveSelection({ keys: ['d', 'c', 'b', 'a', 'e'] }, layout, shards).coversAll).toBe(true);
    expect(resolveSelection({ keys: ['d', 'c', 'b', 'a'] }, layout, shards).coversAll).toBe(false);
  });

  it('both shards and keys: INVALID_MESSAGE', () => {
    expect(codeOf(() => resolveSelection({ shards: [0], keys: ['a'] }, layout, shards))).toBe(
      ErrorCode.InvalidMessage,
    );
  });

  it.each([
    ['repeated', [0, 1, 0]],
    ['one past the end', [3]],
    ['far out of range', [1024]],
    ['negative', [-1]],
    ['fractional', [0.5]],
  ])('a %s shard: UNKNOWN_SHARD', (_label, indices) => {
    expect(codeOf(() => resolveSelection({ shards: indices }, layout, shards))).toBe(ErrorCode.UnknownShard);
  });

  it.each([
    ['unknown', ['a', 'zzz']],
    ['repeated', ['a', 'b', 'a']],
    ['inherited property name', ['toString']],
  ])('an %s key: UNKNOWN_KEY', (_label, keys) => {
    expect(codeOf(() => resolveSelection({ keys }, layout, shards))).toBe(ErrorCode.UnknownKey);
  });

  it('never leaks a non-HubError for unknown keys', () => {
    expect(() => resolveSelection({ keys: ['nope'] }, layout, shards)).toThrow(HubError);
  });
});

describe('splitByShard + gatherFromShards', () => {
  it('gather of one whole shard is that shard’s snapshot itself (immutable, no copy)', () => {
    const shards = shardRanges(layout.totalLength, 3);
    const flat = Float32Array.from({ length: layout.totalLength }, (_, i) => i);
    const snapshots = snapshotsOf(flat, shards);
    const selection = resolveSelection({ shards: [1] }, layout, shards);
    expect(gatherFromShards(selection, snapshots, shards)).toBe(snapshots[1]);
  });

  it('gather of several ranges is a fresh array: writing to it leaves the snapshots alone', () => {
    const shards = shardRanges(layout.totalLength, 3);
    const flat = Float32Array.from({ length: layout.totalLength }, (_, i) => i);
    const snapshots = snapshotsOf(flat, shards);
    const out = gatherFromShards(resolveSelection({}, layout, shards), snapshots, shards);
    expect(Array.from(out)).toEqual(Array.from(flat));
    out.fill(-1);
    expect(snapshots.flatMap((s) => Array.from(s))).toEqual(Array.from(flat));
  });

  it('split of a key that spans two shards: one piece per shard at flat offsets', () => {
    const shards = shardRanges(layout.totalLength, 3); // [0,8) [8,16) [16,23): c = [10, 15) lies in shard 1
    const fourShards = shardRanges(layout.totalLength, 4); // [0,6) [6,12) [12,18) [18,23): c spans 1 and 2
    const selection = resolveSelection({ keys: ['c'] }, layout, fourShards);
    const payload = Float32Array.from([1, 2, 3, 4, 5]);
    const split = splitByShard(selection, payload, fourShards);
    expect([...split.keys()]).toEqual([1, 2]);
    expect(split.get(1)!.map((p) => [p.offset, Array.from(p.values)])).toEqual([[10, [1, 2]]]);
    expect(split.get(2)!.map((p) => [p.offset, Array.from(p.values)])).toEqual([[12, [3, 4, 5]]]);
    expect(
      splitByShard(resolveSelection({ keys: ['c'] }, layout, shards), payload, shards).get(1),
    ).toHaveLength(1);
  });

  it('round trip over random selections and shard counts (seeded)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      try {
        roundTripOnce(seed);
      } catch (error) {
        throw new Error(`selection round trip failed with seed ${seed}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  });
});

function shuffled<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

function roundTripOnce(seed: number): void {
  const random = mulberry32(seed);
  const counts = [1, 2, 3, 4, 5, 7, 11, 23];
  const count = counts[Math.floor(random() * counts.length)];
  const shards = shardRanges(layout.totalLength, count);
  const kind = random();
  let request: { shards?: number[]; keys?: string[] };
  if (kind < 0.4) {
    const all = shuffled(
      shards.map((s) => s.index),
      random,
    );
    request = { shards: all.slice(0, 1 + Math.floor(random() * all.length)) };
  } else if (kind < 0.85) {
    const all = shuffled(KEYS, random);
    request = { keys: all.slice(0, 1 + Math.floor(random() * all.length)) };
  } else {
    request = {};
  }
  const where = `${count} shards, ${JSON.stringify(request)}`;
  const selection = resolveSelection(request, layout, shards);

  // Pull: gather from snapshots of a known flat vector.
  const flat = Float32Array.from({ length: layout.totalLength }, () => random() * 2 - 1);
  const gathered = gatherFromShards(selection, snapshotsOf(flat, shards), shards);
  const expected = expectedPayload(flat, selection);
  check(gathered.length === selection.totalLength, `${where}: gathered ${gathered.length} floats`);
  check(
    gathered.every((v, i) => v === expected[i]),
    `${where}: gathered ${Array.from(gathered)} expected ${Array.from(expected)}`,
  );

  // Push: split a payload and write every piece back into a flat vector.
  const payload = Float32Array.from({ length: selection.totalLength }, (_, i) => 1000 + i);
  const written = new Float32Array(layout.totalLength).fill(NaN);
  const writes = new Uint8Array(layout.totalLength);
  for (const [index, pieces] of splitByShard(selection, payload, shards)) {
    const shard = shards[index];
    check(shard !== undefined, `${where}: pieces for shard ${index}`);
    for (const piece of pieces) {
      check(piece.values.length > 0, `${where}: empty piece`);
      check(
        piece.offset >= shard.offset && piece.offset + piece.values.length <= shard.offset + shard.length,
        `${where}: piece [${piece.offset}, +${piece.values.length}) outside shard ${index}`,
      );
      for (let i = 0; i < piece.values.length; i++) {
        written[piece.offset + i] = piece.values[i];
        writes[piece.offset + i]++;
      }
    }
  }
  // Every selected float is written once, with the payload value at its position; nothing else is.
  const selected = new Uint8Array(layout.totalLength);
  let position = 0;
  for (const r of selection.ranges) {
    for (let i = 0; i < r.length; i++) {
      const f = r.offset + i;
      selected[f] = 1;
      check(writes[f] === 1, `${where}: float ${f} written ${writes[f]} times`);
      check(
        written[f] === payload[position + i],
        `${where}: float ${f} = ${written[f]}, expected ${payload[position + i]}`,
      );
    }
    position += r.length;
  }
  for (let f = 0; f < layout.totalLength; f++) {
    check(selected[f] === 1 || writes[f] === 0, `${where}: unselected float ${f} written`);
  }
  // And the two are inverses: gathering what was written gives the payload back.
  const back = gatherFromShards(selection, snapshotsOf(written, shards), shards);
  check(
    back.every((v, i) => v === payload[i]),
    `${where}: gather(split(payload)) != payload`,
  );
}
