import { ErrorCode, HubError } from '../../shared/errors.js';
import {
  keyRanges,
  piecesByShard,
  UnknownKeyError,
  type Range,
  type ShardRange,
} from '../../shared/layout.js';
import type { ParameterLayout } from '../../shared/layout.js';
import type { GradientPiece } from '../actors/ShardActor.js';

/** Which floats of the flat vector a pull or push covers, in payload order. */
export interface Selection {
  readonly ranges: readonly Range[];
  readonly totalLength: number;
  /** True when every shard is covered exactly once (a whole-model pull or push). */
  readonly coversAll: boolean;
}

/**
 * Resolves a message's `shards` or `keys` (or neither: everything) into flat ranges. Throws HubError
 * with UNKNOWN_SHARD / UNKNOWN_KEY / INVALID_MESSAGE.
 */
export function resolveSelection(
  request: { shards?: readonly number[]; keys?: readonly string[] },
  layout: ParameterLayout,
  shards: readonly ShardRange[],
): Selection {
  if (request.shards && request.keys) {
    throw new HubError(ErrorCode.InvalidMessage, 'name either shards or keys, not both');
  }
  let ranges: Range[];
  if (request.keys) {
    if (new Set(request.keys).size !== request.keys.length) {
      throw new HubError(ErrorCode.UnknownKey, 'a key is named twice');
    }
    try {
      ranges = keyRanges(layout, request.keys);
    } catch (error) {
      if (error instanceof UnknownKeyError) throw new HubError(ErrorCode.UnknownKey, error.message);
      throw error;
    }
  } else if (request.shards) {
    if (new Set(request.shards).size !== request.shards.length) {
      throw new HubError(ErrorCode.UnknownShard, 'a shard is named twice');
    }
    ranges = request.shards.map((index) => {
      const shard = shards[index];
      if (!shard)
        throw new HubError(ErrorCode.UnknownShard, `shard ${index} does not exist (0..${shards.length - 1})`);
      return shard;
    });
  } else {
    ranges = [...shards];
  }
  const totalLength = ranges.reduce((sum, r) => sum + r.length, 0);
  return { ranges, totalLength, coversAll: totalLength === layout.totalLength };
}

/** Cuts a payload laid out as `selection` into the pieces each shard must apply. */
export function splitByShard(
  selection: Selection,
  payload: Float32Array,
  shards: readonly ShardRange[],
): Map<number, GradientPiece[]> {
  const byShard = new Map<number, GradientPiece[]>();
  let position = 0;
  for (const range of selection.ranges) {
    for (const piece of piecesByShard(shards, range)) {
      const from = position + (piece.offset - range.offset);
      const list = byShard.get(piece.shard) ?? [];
      list.push({ offset: piece.offset, values: payload.subarray(from, from + piece.length) });
      byShard.set(piece.shard, list);
    }
    position += range.length;
  }
  return byShard;
}

/** Copies the selected floats out of per-shard snapshots into one payload, in selection order. */
export function gatherFromShards(
  selection: Selection,
  snapshots: readonly Float32Array[],
  shards: readonly ShardRange[],
): Float32Array {
  // One whole shard: its immutable snapshot can go out as it is.
  if (selection.ranges.length === 1) {
    const only = shards.find(
      (s) => s.offset === selection.ranges[0].offset && s.length === selection.ranges[0].length,
    );
    if (only) return snapshots[only.index];
  }
  const out = new Float32Array(selection.totalLength);
  let position = 0;
  for (const range of selection.ranges) {
    for (const piece of piecesByShard(shards, range)) {
      const local = piece.offset - shards[piece.shard].offset;
      out.set(
        snapshots[piece.shard].subarray(local, local + piece.length),
        position + (piece.offset - range.offset),
      );
    }
    position += range.length;
  }
  return out;
}

/** How many floats of each shard a selection covers. */
export function floatsPerShard(selection: Selection, shards: readonly ShardRange[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const range of selection.ranges) {
    for (const piece of piecesByShard(shards, range)) {
      counts.set(piece.shard, (counts.get(piece.shard) ?? 0) + piece.length);
    }
  }
  return counts;
}
