import {
  aggregate,
  AGGREGATION_RULES,
  type AggregateOptions,
  type AggregationRule,
} from '../server/aggregation/robustAggregate.js';
import { createUpdateRule, OPTIMIZER_NAMES, type OptimizerName } from '../server/optimizers/updateRules.js';
import { testGradient } from '../server/testing/testHub.js';
import type { AggregateTiming, ApplyResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio } from './stats.js';

/** Gradients a sync round combines in the aggregation arms: a round of 8 workers. */
const AGGREGATED_GRADIENTS = 8;

/**
 * ms to apply one gradient of `floats` floats with each update rule the hub has (in place, on storage
 * from `allocate`, as a shard does; copying the gradient into the kernels' memory counts), against
 * `Float32Array.set` copying the same number of floats, timed in turns in the same run. Each sample times `callsPerSample` calls and divides; the figure is the median sample.
 * Then the same for each `--aggregate` rule combining a round of 8 such gradients (measureAggregate).
 */
export function measureApply(settings: BenchSettings): ApplyResult {
  const { floats, reps, callsPerSample } = settings.apply;
  const gradient = testGradient(floats, 7);
  const copyTarget = new Float32Array(floats);
  const timers: { name: OptimizerName | 'copy'; run: () => void }[] = [
    { name: 'copy', run: () => copyTarget.set(gradient) },
    ...OPTIMIZER_NAMES.map((name) => {
      const rule = createUpdateRule(name);
      // A shard's storage: weights and state in the kernels' memory; each call copies the gradient in.
      const { params, state } = rule.allocate(floats);
      // Small weights and a small rate keep every value far from overflow over many calls.
      params.set(testGradient(floats, 11).map((v) => v * 1e-3));
      return { name, run: () => rule.apply(params, gradient, state, 1e-6) };
    }),
  ];
  const samples = timeInTurns(timers, reps, callsPerSample);
  const copyMs = median(samples.get('copy')!);
  return {
    floats,
    copyMs,
    rules: OPTIMIZER_NAMES.map((name) => {
      const ms = median(samples.get(name)!);
      return { rule: name, ms, ratio: ratio(ms, copyMs) };
    }),
    aggregate: measureAggregate(floats, reps),
  };
}

/**
 * ms for each aggregation rule (`server/aggregation/robustAggregate.ts`, the shards' `--aggregate`) to
 * combine 8 gradients of `floats` floats with equal weights, against copying the 8 into one buffer,
 * timed in turns; one call per sample (each takes milliseconds). centered-clip runs with its default
 * iterations and with one.
 */
function measureAggregate(floats: number, reps: number): AggregateTiming {
  const gradients = Array.from({ length: AGGREGATED_GRADIENTS }, (_, i) => testGradient(floats, 100 + i));
  const weights = gradients.map(() => 64);
  const copyTarget = new Float32Array(floats * AGGREGATED_GRADIENTS);
  const arms: { name: string; rule: AggregationRule; options: AggregateOptions }[] = [
    ...AGGREGATION_RULES.map((rule) => ({ name: rule, rule, options: {} })),
    { name: 'centered-clip, 1 iteration', rule: 'centered-clip', options: { clipIterations: 1 } },
  ];
  const timers = [
    { name: 'copy', run: () => gradients.forEach((g, i) => copyTarget.set(g, i * floats)) },
    ...arms.map(({ name, rule, options }) => ({
      name,
      run: () => void aggregate(rule, gradients, weights, options),
    })),
  ];
  const samples = timeInTurns(timers, reps, 1);
  const copyMs = median(samples.get('copy')!);
  return {
    gradients: AGGREGATED_GRADIENTS,
    floats,
    copyMs,
    rules: arms.map(({ name }) => {
      const ms = median(samples.get(name)!);
      return { rule: name, ms, ratio: ratio(ms, copyMs) };
    }),
  };
}

/** ms per call of each timer, one sample per repetition; the order alternates; warm-up first. */
function timeInTurns(
  timers: readonly { readonly name: string; readonly run: () => void }[],
  reps: number,
  callsPerSample: number,
): Map<string, number[]> {
  const samples = new Map<string, number[]>(timers.map((t) => [t.name, []]));
  // Warm-up, so that every loop is optimised before it is timed.
  for (const timer of timers) for (let i = 0; i < callsPerSample; i++) timer.run();
  for (let rep = 0; rep < reps; rep++) {
    for (const timer of rep % 2 === 0 ? timers : [...timers].reverse()) {
      const started = performance.now();
      for (let i = 0; i < callsPerSample; i++) timer.run();
      samples.get(timer.name)!.push((performance.now() - started) / callsPerSample);
    }
  }
  return samples;
}
