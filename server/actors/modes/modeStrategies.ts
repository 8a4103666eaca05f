import type { TrainingMode } from '../../../shared/protocol.js';
import { AsyncSteps, type AsyncStepsOptions } from './AsyncSteps.js';
import { BufferedLocal } from './BufferedLocal.js';
import { LocalRounds, type LocalRoundsOptions } from './LocalRounds.js';
import { SyncRounds } from './SyncRounds.js';
import type { ModeHost, TrainingStrategy } from './TrainingStrategy.js';

/** Every mode's settings (each strategy reads its own). */
export type ModeOptions = AsyncStepsOptions &
  LocalRoundsOptions & {
    /** Local mode: apply every this many changes as they arrive (BufferedLocal) instead of in rounds. */
    readonly bufferSize?: number;
  };

/**
 * One strategy per training mode. A new mode is a file with a TrainingStrategy and a line here
 * (and its name in TRAINING_MODES).
 */
export const MODE_STRATEGIES: Record<
  TrainingMode,
  (host: ModeHost, options: ModeOptions, nextRoundId: () => number) => TrainingStrategy
> = {
  async: (host, options) => new AsyncSteps(host, options),
  sync: (host, options, nextRoundId) => new SyncRounds(host, options, nextRoundId),
  local: (host, options, nextRoundId) =>
    options.bufferSize === undefined
      ? new LocalRounds(host, options, nextRoundId)
      : new BufferedLocal(host, { ...options, bufferSize: options.bufferSize }, nextRoundId),
};
