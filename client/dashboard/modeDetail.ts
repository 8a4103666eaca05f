import { assertNever } from '../../shared/assertNever.js';
import type { LocalSettings, RunInfo } from '../../shared/dashboardProtocol.js';
import type { TrainingMode } from '../../shared/protocol.js';
import { formatConstant, formatInteger } from './format.js';

/** What each mode does, in a few words (keyed by every mode: a new one fails the type check here). */
export const MODE_SUMMARIES: Record<TrainingMode, string> = {
  async: 'each gradient applied on arrival',
  sync: 'one gradient per worker per step, averaged',
  local: 'each worker trains for several steps; its weight change goes to an outer optimizer',
};

/** Local mode's outer optimizer in words: "outer nesterov lr 0.7, momentum 0.9". */
export function describeOuter(local: LocalSettings): string {
  switch (local.outerOptimizer) {
    case 'nesterov':
      return `outer nesterov lr ${formatConstant(local.outerLr)}, momentum ${formatConstant(local.outerMomentum)}`;
    case 'average':
      // FedAvg: the weights move to the workers' mean end point (lr 1, no momentum).
      return 'outer average (FedAvg)';
    default:
      return assertNever(local.outerOptimizer);
  }
}

/** A local round's length in words: "50 local steps" or "50 local steps or 30 s". */
export function describeLocalRound(local: LocalSettings): string {
  const steps = `${formatInteger(local.localSteps)} local steps`;
  return local.roundSecs === null ? steps : `${steps} or ${formatConstant(local.roundSecs)} s`;
}

/** Mean inner steps: "20", or "19.5" when workers stopped early (--round-secs). */
export function formatSteps(steps: number | null): string {
  if (steps === null || !Number.isFinite(steps)) return '-';
  return Number.isInteger(steps) ? formatInteger(steps) : steps.toFixed(1);
}

/**
 * The run summary's line under the mode: short, it sits in a narrow card ("20-step rounds, outer
 * nesterov lr 0.7"); `describeModeFully` is the whole of it, for the card's tooltip.
 */
export function describeMode(run: Pick<RunInfo, 'mode' | 'local'>): string {
  switch (run.mode) {
    case 'async':
      return 'applied on arrival';
    case 'sync':
      return 'averaged in rounds';
    case 'local': {
      const { localSteps, localBuffer, outerOptimizer, outerLr } = run.local;
      const outer =
        outerOptimizer === 'nesterov' ? `outer nesterov lr ${formatConstant(outerLr)}` : 'outer average';
      return localBuffer === null
        ? `${formatInteger(localSteps)}-step rounds, ${outer}`
        : `${formatInteger(localSteps)} steps, buffer ${formatInteger(localBuffer)}, ${outer}`;
    }
    default:
      return assertNever(run.mode);
  }
}

/** Every setting behind the mode, in words. */
export function describeModeFully(run: Pick<RunInfo, 'mode' | 'local'>): string {
  if (run.mode !== 'local') return `${run.mode}: ${MODE_SUMMARIES[run.mode]}`;
  const { local } = run;
  const applied =
    local.localBuffer === null
      ? 'each round combines the changes'
      : `every ${formatInteger(local.localBuffer)} changes are combined as they arrive (buffered)`;
  return `local: ${describeLocalRound(local)} per change; ${applied}; ${describeOuter(local)}; changes sent as ${local.compressChanges === 'fp16' ? 'fp16' : 'float32'}`;
}
