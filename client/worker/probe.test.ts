import { describe, expect, it } from 'vitest';
import { backendChoiceFromQuery } from './backends.js';
import { fastest, formatProbe, rankBackends, syntheticExamples, type ProbeFigure } from './probe.js';

// What this machine measured (headless Chromium, 2 cores, SwiftShader WebGPU).
const FIGURES: ProbeFigure[] = [
  { backend: 'webgl', outcome: 'measured', msPerStep: 805, firstStepMs: 3076, timedSteps: 1 },
  { backend: 'wasm', outcome: 'measured', msPerStep: 69, firstStepMs: 204, timedSteps: 3 },
  { backend: 'webgpu', outcome: 'cut', firstStepMs: 5000, note: 'its first step took over 5000 ms' },
  { backend: 'cpu', outcome: 'measured', msPerStep: 800, firstStepMs: 1078, timedSteps: 1 },
];

describe('backend probe', () => {
  it('ranks measured backends by ms/step, then the ones cut by the budget, and drops the rest', () => {
    const figures: ProbeFigure[] = [...FIGURES, { backend: 'cpu', outcome: 'failed', note: 'boom' }];
    expect(rankBackends(FIGURES)).toEqual(['wasm', 'cpu', 'webgl', 'webgpu']);
    expect(rankBackends(figures.filter((f) => f.outcome !== 'measured'))).toEqual(['webgpu']);
    expect(rankBackends([{ backend: 'webgpu', outcome: 'unavailable', note: 'no adapter' }])).toEqual([]);
  });

  it('names the fastest measured backend', () => {
    expect(fastest(FIGURES)?.backend).toBe('wasm');
    expect(fastest([{ backend: 'webgpu', outcome: 'cut', firstStepMs: 5000 }])).toBeUndefined();
  });

  it('formats the figures in one short line for the hub', () => {
    expect(formatProbe(FIGURES)).toBe('webgl 805, wasm 69, webgpu >5000, cpu 800');
    expect(formatProbe([{ backend: 'webgpu', outcome: 'unavailable' }])).toBe('webgpu n/a');
  });

  it('builds a full synthetic batch with valid labels', () => {
    const batch = syntheticExamples(64);
    expect(batch.images.length).toBe(64 * 784);
    expect(Math.max(...batch.labels)).toBeLessThan(10);
  });
});

describe('?backend=', () => {
  it('defaults to auto and accepts the four backends', () => {
    expect(backendChoiceFromQuery('')).toBe('auto');
    expect(backendChoiceFromQuery('?backend=auto')).toBe('auto');
    for (const name of ['webgpu', 'webgl', 'wasm', 'cpu'])
      expect(backendChoiceFromQuery(`?backend=${name}`)).toBe(name);
  });

  it('refuses anything else with the accepted values', () => {
    expect(() => backendChoiceFromQuery('?backend=cuda')).toThrow(/webgpu\|webgl\|wasm\|cpu\|auto/);
  });
});
