import type { TrainingMode } from '../../../shared/protocol.js';
import { AsyncSteps, type AsyncStepsOptions } from './AsyncSteps.js';
import { LocalRounds, type LocalRoundsOptions } from './LocalRounds.js';
import { SyncRounds } from './SyncRounds.js';
import type { ModeHost, TrainingStrategy } from './TrainingStrategy.js';

/** Every mode's settings (each strategy reads its own). */
export type ModeOptions = AsyncStepsOptions & LocalRoundsOptions;

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
  local: (host, options, nextRoundId) => new LocalRounds(host, options, nextRoundId),
};
