import type { GradientWorker, WorkerSummary } from '../../shared/GradientWorker.js';
import type { Hub } from '../createHub.js';

/** How often the hub's status is read for the latest test accuracy. */
const WATCH_EVERY_MS = 500;

export interface TrainedToTarget {
  /** The first evaluation at or above the target, or else the final one (taken after the workers stop). */
  readonly best: { readonly accuracy: number; readonly examplesSeen: number };
  /** Whether an evaluation during the run reached the target (the workers were stopped then). */
  readonly reached: boolean;
  readonly summaries: WorkerSummary[];
  readonly seconds: number;
}

/**
 * Runs the workers until an evaluation of the hub reaches `target` (then stops them) or until they
 * end by themselves (their maxSteps: the example budget). A status that fails (a 503 while a shard
 * restarts) is asked again at the next tick.
 */
export async function trainUntilTarget(
  hub: Hub,
  workers: readonly GradientWorker[],
  target: number,
): Promise<TrainedToTarget> {
  let reached: TrainedToTarget['best'] | null = null;
  const started = performance.now();
  const watcher = setInterval(() => {
    hub.status().then(
      (status) => {
        if (status.testAccuracy !== null && status.testAccuracy >= target && status.evaluation) {
          reached ??= { accuracy: status.testAccuracy, examplesSeen: status.evaluation.examplesSeen };
          workers.forEach((w) => w.stop());
        }
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
  return {
    best: { accuracy: final.accuracy, examplesSeen: final.examplesSeen },
    reached: false,
    summaries,
    seconds,
  };
}
