import { join } from 'node:path';
import { floatsToBytes } from '../../shared/floatCodec.js';
import type { ModelName } from '../../shared/models.js';
import type { ShardCheckpoint } from '../actors/ShardActor.js';
import { CheckpointCorruptError, type EncodedCheckpoint } from '../checkpoints/checkpointFormat.js';
import { decodeAppliedPushes } from '../checkpoints/appliedPushes.js';
import { CheckpointMismatchError } from '../checkpoints/runCheckpoint.js';
import type { OptimizerName } from '../optimizers/updateRules.js';

/**
 * One shard process's own checkpoint, in the run checkpoint's file format (checkpointFormat.ts: magic,
 * JSON header, blobs, sha256; written atomically by CheckpointStore) and with its blob names
 * (`shard<i>/weights`, `shard<i>/slot<j>`, `shard<i>/outer`). The header adds what a restarted shard
 * must check: the model, shard count and optimizer it belongs to.
 */
export const SHARD_CHECKPOINT_FORMAT = 1;

export interface SavedShard {
  readonly savedAt: number;
  readonly model: ModelName;
  readonly shards: number;
  readonly optimizer: OptimizerName;
  /** The learning rate at the time (the operator may have changed it). */
  readonly learningRate: number;
  readonly shard: ShardCheckpoint;
}

export interface ShardCheckpointHeader {
  readonly format: number;
  readonly kind: 'shard';
  readonly savedAt: number;
  readonly model: ModelName;
  readonly shards: number;
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  readonly index: number;
  readonly offset: number;
  readonly version: number;
  readonly length: number;
  readonly step: number;
  readonly slots: number;
  /**
   * True when the shard has local mode's outer momentum, blob `shard<i>/outer`. Absent in files from
   * before local mode, which still load (no outer momentum), so the format number stays.
   */
  readonly outer?: boolean;
  /**
   * The push ids the shard applied recently, `[pushId, version]`, oldest first: a shard restarted
   * from this file still answers them as repeats. Absent when none, and in files from before.
   */
  readonly applied?: readonly (readonly [string, number])[];
}

/** Each shard keeps its files in its own folder, so that its store keeps and prunes only its own. */
export function shardCheckpointDir(checkpointDir: string, index: number): string {
  return join(checkpointDir, `shard-${index}`);
}

export function encodeShardCheckpoint(saved: SavedShard): EncodedCheckpoint<ShardCheckpointHeader> {
  const { shard } = saved;
  const blobs = new Map<string, Uint8Array>();
  blobs.set(`shard${shard.index}/weights`, floatsToBytes(shard.weights));
  shard.optimizerState.slots.forEach((slot, i) =>
    blobs.set(`shard${shard.index}/slot${i}`, floatsToBytes(slot)),
  );
  if (shard.outerMomentum) blobs.set(`shard${shard.index}/outer`, floatsToBytes(shard.outerMomentum));
  return {
    header: {
      format: SHARD_CHECKPOINT_FORMAT,
      kind: 'shard',
      savedAt: saved.savedAt,
      model: saved.model,
      shards: saved.shards,
      optimizer: saved.optimizer,
      learningRate: saved.learningRate,
      index: shard.index,
      offset: shard.offset,
      version: shard.version,
      length: shard.weights.length,
      step: shard.optimizerState.step,
      slots: shard.optimizerState.slots.length,
      ...(shard.outerMomentum ? { outer: true } : {}),
      ...(shard.appliedPushes ? { applied: shard.appliedPushes } : {}),
    },
    blobs,
  };
}

/** Throws CheckpointCorruptError for a file that is not a shard checkpoint of this format. */
export function decodeShardCheckpoint({ header, blobs }: EncodedCheckpoint<unknown>): SavedShard {
  const h = header as Partial<ShardCheckpointHeader> | null;
  if (h?.kind !== 'shard') throw new CheckpointCorruptError('not a shard checkpoint');
  if (h.format !== SHARD_CHECKPOINT_FORMAT) {
    throw new CheckpointCorruptError(
      `shard format ${h.format}; this shard reads format ${SHARD_CHECKPOINT_FORMAT}`,
    );
  }
  const { index, length, slots } = h as ShardCheckpointHeader;
  const floats = (name: string): Float32Array => {
    const bytes = blobs.get(name);
    if (!bytes || bytes.byteLength !== length * 4)
      throw new CheckpointCorruptError(`${name} is missing or mis-sized`);
    return new Float32Array(bytes.buffer, bytes.byteOffset, length);
  };
  return {
    savedAt: h.savedAt!,
    model: h.model!,
    shards: h.shards!,
    optimizer: h.optimizer!,
    learningRate: h.learningRate!,
    shard: {
      index,
      offset: h.offset!,
      version: h.version!,
      weights: floats(`shard${index}/weights`),
      optimizerState: {
        step: h.step!,
        slots: Array.from({ length: slots }, (_, i) => floats(`shard${index}/slot${i}`)),
      },
      ...(h.outer === true ? { outerMomentum: floats(`shard${index}/outer`) } : {}),
      ...(h.applied !== undefined ? { appliedPushes: decodeAppliedPushes(h.applied, `shard ${index}`) } : {}),
    },
  };
}

/**
 * A shard checkpoint carries on only the same shard of the same split of the same model with the same
 * optimizer (its state is the optimizer's own), as checkCompatible requires of a run checkpoint.
 */
export function checkShardCompatible(
  saved: SavedShard,
  requested: {
    model: ModelName;
    shards: number;
    optimizer: OptimizerName;
    index: number;
    offset: number;
    length: number;
  },
  file: string,
): void {
  const differences: string[] = [];
  if (saved.model !== requested.model) differences.push(`model ${saved.model} (asked: ${requested.model})`);
  if (saved.shards !== requested.shards)
    differences.push(`${saved.shards} shards (asked: ${requested.shards})`);
  if (saved.optimizer !== requested.optimizer) {
    differences.push(`optimizer ${saved.optimizer} (asked: ${requested.optimizer})`);
  }
  const s = saved.shard;
  if (s.index !== requested.index || s.offset !== requested.offset || s.weights.length !== requested.length) {
    differences.push(
      `shard ${s.index} [${s.offset}, +${s.weights.length}) (asked: shard ${requested.index} [${requested.offset}, +${requested.length}))`,
    );
  }
  if (differences.length > 0) {
    throw new CheckpointMismatchError(
      `shard checkpoint ${file} was saved with ${differences.join(', ')}. ` +
        `Start the shard with the saved settings to resume it, or point it at another checkpoint folder.`,
    );
  }
}
