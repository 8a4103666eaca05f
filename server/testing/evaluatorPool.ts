import { Evaluator, type EvaluatorOptions, type EvaluatorSource } from '../evaluation/Evaluator.js';

/** Idle threads kept per set of options: a test rarely has more hubs than this open at once. */
const IDLE_PER_OPTIONS = 2;

const idle = new Map<string, Evaluator[]>();
/** The options each thread was started with, as a key of `idle`. */
const keys = new WeakMap<Evaluator, string>();

const keyOf = (options: EvaluatorOptions): string =>
  JSON.stringify([
    options.model,
    options.testSubset,
    options.dataDir,
    options.batchSize,
    options.sampleCount,
  ]);

/**
 * The evaluation threads of the hubs a test process starts, kept for the next hub with the same
 * options instead of terminated: a thread holds no state of its hub between calls (each request
 * carries its weights), and starting one from the TypeScript sources takes ~1 s, the largest part of
 * a test hub's start. A thread comes back only when it is healthy and idle; one still answering a
 * closed hub's calls is terminated, as a hub's own would be, so those calls reject as they did.
 */
export const POOLED_EVALUATORS: EvaluatorSource = {
  async acquire(options) {
    const key = keyOf(options);
    const kept = idle.get(key) ?? [];
    for (let evaluator = kept.pop(); evaluator; evaluator = kept.pop()) {
      if (evaluator.usable) return evaluator;
    }
    const started = await Evaluator.start(options);
    keys.set(started, key);
    return started;
  },
  async release(evaluator) {
    const key = keys.get(evaluator);
    const kept = key === undefined ? [] : (idle.get(key) ?? []);
    if (key === undefined || !evaluator.usable || evaluator.queued > 0 || kept.length >= IDLE_PER_OPTIONS) {
      await evaluator.close();
      return;
    }
    kept.push(evaluator);
    idle.set(key, kept);
  },
};
