import { assertNever } from '../../shared/assertNever.js';
import type { OptimizerName } from './updateRules.js';

/**
 * How a sync round's learning rate depends on the number of gradients it averages:
 * - linear: lr x N, the linear scaling rule (Goyal et al. 2017). A round of N averaged gradients is
 *   one SGD step on an N-times larger batch; at lr x N it moves as far as N single steps would.
 * - sqrt: lr x sqrt(N), the square-root rule for adaptive optimizers (Malladi et al. 2022): Adam's
 *   step size is set by lr, its noise falls as 1/sqrt(N) with the batch.
 * - none: lr as given, as TensorFlow's SyncReplicasOptimizer applies the average. Adam divides by the
 *   gradient's running RMS, so its step is about lr whatever the batch: lr x N makes N volunteers
 *   take N-times larger steps (and N times fewer of them per example).
 * - auto: the optimizer's own rule (`AUTO_SYNC_LR_SCALING`).
 */
export const SYNC_LR_SCALINGS = ['auto', 'linear', 'sqrt', 'none'] as const;
export type SyncLrScaling = (typeof SYNC_LR_SCALINGS)[number];
export type ResolvedSyncLrScaling = Exclude<SyncLrScaling, 'auto'>;

/**
 * `auto`, per optimizer, from the bench's figure 9 (`bench/syncLrScaling.ts`, README "Training
 * modes"): cnn, 2, 4 and 8 workers, the same examples. sgd: lr x N cut the test error to 0.28-0.66x
 * of the unscaled rate's, the linear rule as expected. adam: also linear, though its step does not
 * grow with the batch: the unscaled rate takes N times fewer steps of the same size and fell behind
 * (error 0.34x at 8 workers with lr x N), and lr x sqrt(N) landed in between. Not measured past 8
 * workers: for many volunteers under adam, `sqrt` bounds the rate's growth.
 */
export const AUTO_SYNC_LR_SCALING: Readonly<Record<OptimizerName, ResolvedSyncLrScaling>> = {
  sgd: 'linear',
  momentum: 'linear',
  adam: 'linear',
};

export function resolveSyncLrScaling(
  scaling: SyncLrScaling,
  optimizer: OptimizerName,
): ResolvedSyncLrScaling {
  return scaling === 'auto' ? AUTO_SYNC_LR_SCALING[optimizer] : scaling;
}

/** The learning rate of a sync round that combined `count` gradients. */
export function syncRoundLearningRate(
  learningRate: number,
  count: number,
  scaling: ResolvedSyncLrScaling,
): number {
  switch (scaling) {
    case 'linear':
      return learningRate * count;
    case 'sqrt':
      return learningRate * Math.sqrt(count);
    case 'none':
      return learningRate;
    default:
      return assertNever(scaling);
  }
}
