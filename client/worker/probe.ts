import * as tf from '@tensorflow/tfjs';
import type { Examples } from '../../shared/examplesCodec.js';
import { examplesToTensors } from '../../shared/examplesTensors.js';
import { layoutOfModel, type ParameterLayout } from '../../shared/layout.js';
import { buildModel, IMAGE_PIXELS, NUM_CLASSES, type ModelName } from '../../shared/models.js';
import { computeGradients, readFlatWeights, writeFlatWeights } from '../../shared/training.js';
import { activateBackend, messageOf, withTimeout, type BackendName } from './backends.js';

/** What the probe found out about one backend. */
export interface ProbeFigure {
  readonly backend: BackendName;
  /**
   * measured: timed steps ran; cut: its first step took longer than the budget (shader compiles on a
   * software GPU do), so it is ranked after every measured backend; unavailable: it did not initialise;
   * failed: a step threw or gave a non-finite loss.
   */
  readonly outcome: 'measured' | 'cut' | 'unavailable' | 'failed';
  /** Median of the timed steps: one gradient step of the run's model on a full batch, ms. */
  readonly msPerStep?: number;
  /** The batch size over msPerStep. */
  readonly examplesPerSec?: number;
  /** The untimed first step (compiles shaders, warms caches), ms. */
  readonly firstStepMs?: number;
  /** Timed steps behind msPerStep. */
  readonly timedSteps?: number;
  readonly note?: string;
}

export interface ProbeOptions {
  readonly model: ModelName;
  readonly batchSize: number;
  /** Timed steps per backend after the warm-up step (fewer when a backend is clearly slower). */
  readonly timedSteps?: number;
  /** Called as each backend's figure is known. */
  readonly onFigure?: (figure: ProbeFigure) => void;
}

const DEFAULT_TIMED_STEPS = 3;
/**
 * Budgets that keep the probe short. A first step may take this long, or 40x the best step so far
 * (WebGPU on SwiftShader spends ~15 s compiling shaders; a real GPU's compile fits easily).
 */
const FIRST_STEP_BUDGET_MS = 5_000;
const FIRST_STEP_BUDGET_FACTOR = 40;
const STEP_BUDGET_MS = 3_000;
const STEP_BUDGET_FACTOR = 10;
/** A backend whose timed step is this many times the best one stops being timed: it cannot win. */
const CLEARLY_SLOWER = 2;

/**
 * Measures each candidate backend on a few gradient steps of the run's model, on a synthetic batch
 * of the run's size, exactly as the worker computes one (weights in, gradient and loss read back
 * asynchronously). Candidates are tried in order; put the likely-fast ones first so the budgets cut
 * the slow ones early. Leaves whichever backend it tried last active: call `activateBackend` after.
 */
export async function probeBackends(
  candidates: readonly BackendName[],
  options: ProbeOptions,
): Promise<ProbeFigure[]> {
  const examples = syntheticExamples(options.batchSize);
  const figures: ProbeFigure[] = [];
  for (const backend of candidates) {
    const best = fastest(figures);
    const figure = await probeOne(backend, examples, options, best?.msPerStep ?? null);
    figures.push(figure);
    options.onFigure?.(figure);
  }
  return figures;
}

/** Backends worth training on, fastest first: measured by ms/step, then the ones that were cut. */
export function rankBackends(figures: readonly ProbeFigure[]): BackendName[] {
  const measured = figures
    .filter((f) => f.outcome === 'measured')
    .sort((a, b) => (a.msPerStep ?? Infinity) - (b.msPerStep ?? Infinity));
  const cut = figures.filter((f) => f.outcome === 'cut');
  return [...measured, ...cut].map((f) => f.backend);
}

export function fastest(figures: readonly ProbeFigure[]): ProbeFigure | undefined {
  return figures
    .filter((f) => f.outcome === 'measured')
    .reduce<ProbeFigure | undefined>(
      (best, f) =>
        best === undefined || (f.msPerStep ?? Infinity) < (best.msPerStep ?? Infinity) ? f : best,
      undefined,
    );
}

/** "wasm 63, webgl 812, cpu 1650, webgpu >5000 (cut)": ms per step, for people and for the hub. */
export function formatProbe(figures: readonly ProbeFigure[]): string {
  return figures
    .map((f) => {
      switch (f.outcome) {
        case 'measured':
          return `${f.backend} ${Math.round(f.msPerStep ?? NaN)}`;
        case 'cut':
          return `${f.backend} >${Math.round(f.firstStepMs ?? NaN)}`;
        case 'unavailable':
          return `${f.backend} n/a`;
        case 'failed':
          return `${f.backend} failed`;
      }
    })
    .join(', ');
}

/**
 * One gradient step of `model` on the active backend, as the worker takes it (upload the weights,
 * compute, read back asynchronously). Resolves to the loss. Also used to check a backend that threw.
 */
export async function benchmarkStep(
  model: tf.LayersModel,
  layout: ParameterLayout,
  weights: Float32Array,
  examples: Examples,
): Promise<number> {
  writeFlatWeights(model, layout, weights);
  const { xs, ys } = examplesToTensors(examples);
  try {
    return (await computeGradients(model, layout, xs, ys)).loss;
  } finally {
    xs.dispose();
    ys.dispose();
  }
}

/** A batch of random images and labels: timing does not depend on the pixels. */
export function syntheticExamples(count: number): Examples {
  const images = new Uint8Array(count * IMAGE_PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % NUM_CLASSES;
  return { count, images, labels };
}

async function probeOne(
  backend: BackendName,
  examples: Examples,
  options: ProbeOptions,
  bestMs: number | null,
): Promise<ProbeFigure> {
  try {
    await activateBackend(backend);
  } catch (error) {
    return { backend, outcome: 'unavailable', note: messageOf(error) };
  }
  const model = buildModel(options.model);
  // The step still running when a budget ran out: the model is disposed only after it settles.
  let inFlight: Promise<unknown> = Promise.resolve();
  try {
    const layout = layoutOfModel(model);
    const weights = await readFlatWeights(model, layout);
    // ms the step took, or null when it ran out of budget (it may still be running).
    const step = async (budgetMs: number): Promise<number | null> => {
      const started = performance.now();
      const running = benchmarkStep(model, layout, weights, examples);
      inFlight = running;
      const loss = await withTimeout(running, budgetMs, () => null);
      if (loss === null) return null;
      if (!Number.isFinite(loss)) throw new Error(`the loss came back as ${loss}`);
      return performance.now() - started;
    };

    const firstBudget = Math.max(FIRST_STEP_BUDGET_MS, FIRST_STEP_BUDGET_FACTOR * (bestMs ?? 0));
    const firstStepMs = await step(firstBudget);
    if (firstStepMs === null) {
      return {
        backend,
        outcome: 'cut',
        firstStepMs: firstBudget,
        note: `its first step took over ${Math.round(firstBudget)} ms`,
      };
    }
    const times: number[] = [];
    const stepBudget = Math.max(STEP_BUDGET_MS, STEP_BUDGET_FACTOR * (bestMs ?? 0));
    for (let i = 0; i < (options.timedSteps ?? DEFAULT_TIMED_STEPS); i++) {
      const ms = await step(stepBudget);
      if (ms === null) break;
      times.push(ms);
      if (bestMs !== null && ms > CLEARLY_SLOWER * bestMs) break;
    }
    if (times.length === 0) {
      return { backend, outcome: 'cut', firstStepMs, note: `a step took over ${Math.round(stepBudget)} ms` };
    }
    const msPerStep = median(times);
    return {
      backend,
      outcome: 'measured',
      msPerStep,
      examplesPerSec: (1000 * examples.count) / msPerStep,
      firstStepMs,
      timedSteps: times.length,
    };
  } catch (error) {
    return { backend, outcome: 'failed', note: messageOf(error) };
  } finally {
    void inFlight.catch(() => undefined).then(() => model.dispose());
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
