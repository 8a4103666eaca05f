import type { TrainingMode } from '../../shared/protocol.js';

/** What the operator can change while a run goes on (the admin panel), as a checkpoint saved it. */
export interface OperatorSettings {
  readonly learningRate: number;
  /** The hub's training mode; a shard process has none. */
  readonly mode?: TrainingMode;
}

/**
 * The one rule of what a resume restores, for the hub and for shard processes alike: what the
 * operator changed while the run went on (the learning rate, the mode) comes back from the
 * checkpoint; the flags' values are for a fresh run. Everything else comes from the flags, and
 * `checkCompatible` refuses a model, shard count or optimizer that differs from the saved one.
 * Returns the settings to run with and, for the log, what the checkpoint overrode.
 */
export function restoredSettings<S extends OperatorSettings>(
  saved: Partial<OperatorSettings> | undefined,
  flags: S,
): { settings: S; overridden: string[] } {
  const overridden: string[] = [];
  const learningRate = saved?.learningRate ?? flags.learningRate;
  if (learningRate !== flags.learningRate) {
    overridden.push(`learning rate ${learningRate} (the flags say ${flags.learningRate})`);
  }
  const mode = flags.mode === undefined ? undefined : (saved?.mode ?? flags.mode);
  if (mode !== flags.mode) overridden.push(`mode ${mode} (the flags say ${flags.mode})`);
  return { settings: { ...flags, learningRate, ...(mode === undefined ? {} : { mode }) }, overridden };
}
