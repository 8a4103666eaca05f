import type { HistoryPoint } from '../../shared/dashboardProtocol.js';
import { floatsToBytes } from '../../shared/floatCodec.js';
import type { CoordinatorCheckpoint } from '../actors/Coordinator.js';
import type { ShardCheckpoint } from '../actors/ShardActor.js';
import type { UnitPoolState } from '../data/UnitPool.js';
import type { Evaluation } from '../evaluation/PeriodicEvaluation.js';
import type { HubOptions } from '../options.js';
import { decodeAppliedPushes } from './appliedPushes.js';
import { CheckpointCorruptError, type EncodedCheckpoint } from './checkpointFormat.js';

/** Bump when the header's meaning changes; older files are then refused with a clear message. */
export const CHECKPOINT_FORMAT = 1;

/** The whole state of a run at one moment. */
export interface RunCheckpoint {
  readonly savedAt: number;
  /** When the run first started (elapsed time goes on across restarts). */
  readonly startedAt: number;
  readonly config: HubOptions;
  /**
   * Every shard's state; empty when the shards keep their own checkpoints (a coordinator whose shards
   * are processes on NATS: see server/cluster/shardCheckpoint.ts).
   */
  readonly shards: readonly ShardCheckpoint[];
  readonly coordinator: CoordinatorCheckpoint;
  readonly units: UnitPoolState;
  /** Test accuracy of exactly these weights (with remote shards: the latest measurement). */
  readonly evaluation: Evaluation | null;
  /** The dashboard's history. */
  readonly history: readonly HistoryPoint[];
}

export interface RunCheckpointHeader extends Omit<RunCheckpoint, 'shards'> {
  readonly format: number;
  readonly shards: readonly {
    index: number;
    offset: number;
    version: number;
    length: number;
    step: number;
    slots: number;
    /**
     * True when the shard has local mode's outer momentum, blob `shard<i>/outer`. Absent in files
     * from before local mode, which still load (no outer momentum), so the format number stays.
     */
    outer?: boolean;
    /**
     * The push ids the shard applied recently, `[pushId, version]` (ShardCheckpoint.appliedPushes).
     * Absent when none, and in files from before, which still load.
     */
    applied?: readonly (readonly [string, number])[];
  }[];
}

export class CheckpointMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointMismatchError';
  }
}

export function encodeRunCheckpoint(run: RunCheckpoint): EncodedCheckpoint<RunCheckpointHeader> {
  const blobs = new Map<string, Uint8Array>();
  for (const shard of run.shards) {
    blobs.set(`shard${shard.index}/weights`, floatsToBytes(shard.weights));
    shard.optimizerState.slots.forEach((slot, i) => blobs.set(`shard${shard.index}/slot${i}`, floatsToBytes(slot)));
    if (shard.outerMomentum) blobs.set(`shard${shard.index}/outer`, floatsToBytes(shard.outerMomentum));
  }
  const { shards, ...rest } = run;
  return {
    header: {
      ...rest,
      format: CHECKPOINT_FORMAT,
      shards: shards.map((s) => ({
        index: s.index,
        offset: s.offset,
        version: s.version,
        length: s.weights.length,
        step: s.optimizerState.step,
        slots: s.optimizerState.slots.length,
        ...(s.outerMomentum ? { outer: true } : {}),
        ...(s.appliedPushes ? { applied: s.appliedPushes } : {}),
      })),
    },
    blobs,
  };
}

export function decodeRunCheckpoint({ header, blobs }: EncodedCheckpoint<RunCheckpointHeader>): RunCheckpoint {
  if (header.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointCorruptError(`format ${header.format}; this hub reads format ${CHECKPOINT_FORMAT}`);
  }
  const floats = (name: string, length: number): Float32Array => {
    const bytes = blobs.get(name);
    if (!bytes || bytes.byteLength !== length * 4) throw new CheckpointCorruptError(`${name} is missing or mis-sized`);
    return new Float32Array(bytes.buffer, bytes.byteOffset, length);
  };
  const { format: _format, shards, ...rest } = header;
  return {
    ...rest,
    shards: shards.map((s) => ({
      index: s.index,
      offset: s.offset,
      version: s.version,
      weights: floats(`shard${s.index}/weights`, s.length),
      optimizerState: {
        step: s.step,
        slots: Array.from({ length: s.slots }, (_, i) => floats(`shard${s.index}/slot${i}`, s.length)),
      },
      ...(s.outer === true ? { outerMomentum: floats(`shard${s.index}/outer`, s.length) } : {}),
      ...(s.applied !== undefined ? { appliedPushes: decodeAppliedPushes(s.applied, `shard ${s.index}`) } : {}),
    })),
  };
}

/**
 * A checkpoint can carry a run on only with the same model, shard count and optimizer (the saved
 * optimizer state is the optimizer's own). Mode, learning rate and the rest may change on restart.
 */
export function checkCompatible(saved: HubOptions, requested: HubOptions, file: string): void {
  const differences: string[] = [];
  if (saved.model !== requested.model) differences.push(`model ${saved.model} (asked: ${requested.model})`);
  if (saved.shards !== requested.shards) differences.push(`${saved.shards} shards (asked: ${requested.shards})`);
  if (saved.optimizer !== requested.optimizer) {
    differences.push(`optimizer ${saved.optimizer} (asked: ${requested.optimizer})`);
  }
  if (differences.length > 0) {
    throw new CheckpointMismatchError(
      `checkpoint ${file} was saved with ${differences.join(', ')}. ` +
        `Start with the saved settings to resume it, or with --fresh to start a new run (or another --checkpoint-dir).`,
    );
  }
}
