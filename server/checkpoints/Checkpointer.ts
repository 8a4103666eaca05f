import type { HubOptions } from '../options.js';
import type { EncodedCheckpoint } from './checkpointFormat.js';
import { CheckpointScheduler } from './CheckpointScheduler.js';
import { CheckpointStore, type LoadResult } from './CheckpointStore.js';
import {
  checkCompatible,
  decodeRunCheckpoint,
  encodeRunCheckpoint,
  type RunCheckpoint,
  type RunCheckpointHeader,
} from './runCheckpoint.js';

export interface CheckpointOptions {
  readonly dir: string;
  /** Write one every this often while the weights change. */
  readonly intervalMs: number;
  readonly keep: number;
  /** Ignore existing checkpoints and start a new run. */
  readonly fresh: boolean;
}

export interface WrittenCheckpoint {
  readonly file: string;
  readonly globalStep: number;
}

export interface ResumePlan {
  readonly checkpoint: RunCheckpoint | null;
  readonly file: string | null;
  /** Newer files that failed their checks, with why. */
  readonly skipped: readonly { readonly file: string; readonly reason: string }[];
}

/** Finds the checkpoint to resume from: the newest whose checksum holds and whose settings fit. */
export async function planResume(options: CheckpointOptions, requested: HubOptions): Promise<ResumePlan> {
  if (options.fresh) return { checkpoint: null, file: null, skipped: [] };
  const { checkpoint, skipped } = await readNewest(options.dir);
  if (!checkpoint) return { checkpoint: null, file: null, skipped };
  checkCompatible(checkpoint.value.config, requested, checkpoint.file);
  return { checkpoint: checkpoint.value, file: checkpoint.file, skipped };
}

/** The newest valid checkpoint in a folder, decoded (also for tools such as export). */
export function readNewest(dir: string): Promise<LoadResult<RunCheckpoint>> {
  return new CheckpointStore(dir, 1).loadNewest((encoded) =>
    decodeRunCheckpoint(encoded as EncodedCheckpoint<RunCheckpointHeader>),
  );
}

/**
 * Writes the run's checkpoints (CheckpointScheduler: every `intervalMs` while the global step moves,
 * on request, and a last one on close) into a CheckpointStore.
 */
export class Checkpointer {
  private readonly scheduler: CheckpointScheduler<WrittenCheckpoint>;
  private lastStep: number;

  constructor(
    options: CheckpointOptions,
    capture: () => Promise<RunCheckpoint>,
    currentStep: () => number,
    log: (line: string) => void,
    /** The step the run resumed at (nothing new to save until it moves). */
    startStep: number | null,
  ) {
    const store = new CheckpointStore(options.dir, options.keep);
    this.lastStep = startStep ?? -1;
    const write = async (): Promise<WrittenCheckpoint> => {
      const run = await capture();
      const file = await store.write(encodeRunCheckpoint(run), run.coordinator.globalStep);
      this.lastStep = run.coordinator.globalStep;
      const accuracy = run.evaluation ? `, test accuracy ${run.evaluation.accuracy.toFixed(4)}` : '';
      log(`checkpoint: step ${run.coordinator.globalStep}${accuracy} -> ${file}`);
      return { file, globalStep: run.coordinator.globalStep };
    };
    this.scheduler = new CheckpointScheduler(options.intervalMs, write, () => currentStep() !== this.lastStep, log);
  }

  writeNow(): Promise<WrittenCheckpoint> {
    return this.scheduler.writeNow();
  }

  /** Stops the timer and writes a last checkpoint if the step moved since the previous one. */
  close(): Promise<WrittenCheckpoint | null> {
    return this.scheduler.close();
  }
}
