import type { GradientWorker, WorkerSummary } from '../../shared/GradientWorker.js';
import type { Hub } from '../createHub.js';

/**
 * How often the hub's status is read for its latest evaluation: well under the callers' evaluation
 * interval (2 s), so that every periodic evaluation is seen and "in a row" means in a row.
 */
const WATCH_EVERY_MS = 250;

/** Evaluations in a row at or above the target that count as reaching it, by default. */
export const DEFAULT_HOLD_FOR = 2;

export interface TrainedToTarget {
  /**
   * The evaluation that completed the hold (the last of `holdFor` in a row at or above the target),
   * or else the final one (taken after the workers stop).
   */
  readonly best: { readonly accuracy: number; readonly examplesSeen: number };
  /** Whether `holdFor` evaluations in a row reached the target (the final one counts as the last). */
  readonly reached: boolean;
  readonly summaries: WorkerSummary[];
  readonly seconds: number;
}

/**
 * Runs the workers until `holdFor` evaluations of the hub in a row (default 2: held, not touched once)
 * reach `target` (then stops them) or until they end by themselves (their maxSteps: the example
 * budget); then the final evaluation continues the row. A status that fails (a 503 while a shard
 * restarts) is asked again at the next tick.
 */
export async function trainUntilTarget(
  hub: Hub,
  workers: readonly GradientWorker[],
  target: number,
  holdFor = DEFAULT_HOLD_FOR,
): Promise<TrainedToTarget> {
  let reached: TrainedToTarget['best'] | null = null;
  let held = 0;
  let lastSeenAt: number | null = null;
  let lastExamples = -1;
  const count = (accuracy: number, examplesSeen: number): void => {
    lastExamples = examplesSeen;
    held = accuracy >= target ? held + 1 : 0;
    if (held >= holdFor) reached ??= { accuracy, examplesSeen };
  };
  const started = performance.now();
  const watcher = setInterval(() => {
    hub.status().then(
      (status) => {
        const { evaluation, testAccuracy } = status;
        if (reached || testAccuracy === null || !evaluation || evaluation.at === lastSeenAt) return;
        lastSeenAt = evaluation.at;
        count(testAccuracy, evaluation.examplesSeen);
        if (reached) workers.forEach((w) => w.stop());
      },
      () => undefined,
    );
  }, WATCH_EVERY_MS);
  let summaries: WorkerSummary[];
  try {
    summaries = await Promise.all(workers.map((w) => w.run()));
  } finally {
    clearInterval(watcher);
  }
  const seconds = (performance.now() - started) / 1000;
  if (reached) return { best: reached, reached: true, summaries, seconds };
  const final = await hub.evaluateNow();
  // Weights the last periodic evaluation already measured do not count twice.
  if (final.examplesSeen > lastExamples) count(final.accuracy, final.examplesSeen);
  return {
    best: { accuracy: final.accuracy, examplesSeen: final.examplesSeen },
    reached: reached !== null,
    summaries,
    seconds,
  };
}
