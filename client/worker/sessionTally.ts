import * as tf from '@tensorflow/tfjs';
import type { StepReport } from '../../shared/GradientWorker.js';
import { syncReadsOnWebGpuCount } from './syncReadGuard.js';
import type { WorkerView } from './workerView.js';

const RATE_WINDOW_MS = 10_000;
const MAX_TENSOR_SAMPLES = 30;

/**
 * Turns the GradientWorker's step reports into the view's figures. GradientWorker counts per
 * connection; the tab shows totals over every connection, and examples/s over the last
 * RATE_WINDOW_MS of training (restarted at each connection, so time spent away does not count).
 */
export class SessionTally {
  private readonly rate: { at: number; examples: number }[] = [];
  private rateSince = 0;
  /** Totals before the current connection. */
  private base = { steps: 0, examples: 0 };

  /** A connection starts (or came back): the rate window starts again. */
  restartRate(now = performance.now()): void {
    this.rate.length = 0;
    this.rateSince = now;
  }

  /** A new GradientWorker starts counting from zero: what the view holds now is the base. */
  startSession(view: WorkerView): void {
    this.base = { steps: view.steps, examples: view.examples };
  }

  /** The view's patch for one accepted push. */
  onStep(view: WorkerView, report: StepReport, now = performance.now()): Partial<WorkerView> {
    const examples = this.base.examples + report.examples;
    this.rate.push({ at: now, examples: examples - view.examples });
    while (this.rate.length > 0 && this.rate[0].at < now - RATE_WINDOW_MS) this.rate.shift();
    const windowMs = Math.min(RATE_WINDOW_MS, now - this.rateSince);
    const inWindow = this.rate.reduce((sum, r) => sum + r.examples, 0);
    return {
      steps: this.base.steps + report.steps,
      examples,
      globalStep: report.globalStep,
      loss: report.loss,
      examplesPerSec: windowMs > 0 ? (inWindow * 1000) / windowMs : 0,
      lastChange:
        report.localSteps === undefined
          ? null
          : {
              localSteps: report.localSteps,
              overlapSteps: report.overlapSteps ?? 0,
              changeNorm: report.changeNorm ?? 0,
            },
      tensorsAfterStep: [...view.tensorsAfterStep, tf.memory().numTensors].slice(-MAX_TENSOR_SAMPLES),
      syncReadsOnWebGpu: syncReadsOnWebGpuCount(),
    };
  }
}
