import { createUpdateRule, OPTIMIZER_NAMES, type OptimizerName } from '../server/optimizers/updateRules.js';
import { testGradient } from '../server/testing/testHub.js';
import type { ApplyResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio } from './stats.js';

/**
 * ms to apply one gradient of `floats` floats with each update rule the hub has (in place, on storage
 * from `allocate`, as a shard does; copying the gradient into the kernels' memory counts), against
 * `Float32Array.set` copying the same number of floats, timed in turns in the same run. Each sample times `callsPerSample` calls and divides; the figure is the median sample.
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
  const copyMs = median(samples.get('copy')!);
  return {
    floats,
    copyMs,
    rules: OPTIMIZER_NAMES.map((name) => {
      const ms = median(samples.get(name)!);
      return { rule: name, ms, ratio: ratio(ms, copyMs) };
    }),
  };
}
