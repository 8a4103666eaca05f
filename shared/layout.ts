import type * as tf from '@tensorflow/tfjs';

/** One named tensor inside the flat parameter vector: floats [offset, offset + length). */
export interface TensorSlot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly length: number;
}

/** Every trainable tensor of a model, in model order, packed into one flat float32 vector. */
export interface ParameterLayout {
  readonly tensors: readonly TensorSlot[];
  readonly totalLength: number;
}

/** A contiguous range of the flat vector: floats [offset, offset + length). */
export interface Range {
  readonly offset: number;
  readonly length: number;
}

export interface ShardRange extends Range {
  readonly index: number;
}

/** A piece of a range that falls inside one shard; `offset` is in flat-vector coordinates. */
export interface ShardPiece extends Range {
  readonly shard: number;
}

export class UnknownKeyError extends Error {
  constructor(readonly key: string) {
    super(`unknown parameter key "${key}"`);
    this.name = 'UnknownKeyError';
  }
}

/**
 * The layout of a model's trainable weights. Names are `layer/weight` (the variables' original
 * names): tf.layers makes variable names unique per process (`conv1/kernel_1`), which would make two
 * builds of the same model disagree.
 */
export function layoutOfModel(model: tf.LayersModel): ParameterLayout {
  return layoutFromShapes(model.trainableWeights.map((w) => ({ name: w.originalName, shape: w.shape })));
}

export function layoutFromShapes(
  tensors: readonly { name: string; shape: readonly (number | null)[] }[],
): ParameterLayout {
  let offset = 0;
  const slots = tensors.map(({ name, shape }) => {
    const dims = shape.map((d) => {
      if (d === null || !Number.isInteger(d) || d <= 0) throw new Error(`tensor ${name} has no fixed shape`);
      return d;
    });
    const length = dims.reduce((a, b) => a * b, 1);
    const slot: TensorSlot = { name, shape: dims, offset, length };
    offset += length;
    return slot;
  });
  return { tensors: slots, totalLength: offset };
}

/** True when two layouts name the same tensors with the same shapes in the same order. */
export function sameLayout(a: ParameterLayout, b: ParameterLayout): boolean {
  return (
    a.totalLength === b.totalLength &&
    a.tensors.length === b.tensors.length &&
    a.tensors.every(
      (t, i) =>
        t.name === b.tensors[i].name &&
        t.shape.length === b.tensors[i].shape.length &&
        t.shape.every((d, j) => d === b.tensors[i].shape[j]),
    )
  );
}

/**
 * Splits `total` floats into `count` contiguous, near-equal ranges (the first `total % count` are one
 * float longer). A tensor may span two shards, as in Ray's sharded parameter server.
 */
export function shardRanges(total: number, count: number): ShardRange[] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`shard count must be a positive integer`);
  if (count > total) throw new Error(`cannot split ${total} parameters into ${count} shards`);
  const base = Math.floor(total / count);
  const extra = total % count;
  const ranges: ShardRange[] = [];
  let offset = 0;
  for (let index = 0; index < count; index++) {
    const length = base + (index < extra ? 1 : 0);
    ranges.push({ index, offset, length });
    offset += length;
  }
  return ranges;
}

/** The ranges of the named tensors, in the order asked. Throws UnknownKeyError. */
export function keyRanges(layout: ParameterLayout, keys: readonly string[]): TensorSlot[] {
  return keys.map((key) => {
    const slot = layout.tensors.find((t) => t.name === key);
    if (!slot) throw new UnknownKeyError(key);
    return slot;
  });
}

/** Cuts a flat-vector range into the pieces held by each shard, in order. */
export function piecesByShard(shards: readonly ShardRange[], range: Range): ShardPiece[] {
  const pieces: ShardPiece[] = [];
  const end = range.offset + range.length;
  for (const shard of shards) {
    const from = Math.max(range.offset, shard.offset);
    const to = Math.min(end, shard.offset + shard.length);
    if (from < to) pieces.push({ shard: shard.index, offset: from, length: to - from });
  }
  return pieces;
}
