import type { EvaluationResult } from './messages.js';

export interface EvaluatedWeights {
  readonly weights: Float32Array;
  readonly globalStep: number;
  readonly examplesSeen: number;
}

export interface Evaluation extends EvaluationResult {
  readonly globalStep: number;
  readonly examplesSeen: number;
  readonly at: number;
}

export interface PeriodicEvaluationOptions {
  readonly intervalMs: number;
  /** A consistent snapshot of the current weights, with the step and examples they stand for. */
  readonly snapshot: () => Promise<EvaluatedWeights>;
  readonly evaluate: (weights: Float32Array) => Promise<EvaluationResult>;
  readonly onError: (error: unknown) => void;
  /** An evaluation carried over from a checkpoint: shown until the first new one. */
  readonly latest?: Evaluation | null;
}

/**
 * Measures test accuracy every `intervalMs` while the weights change (an idle hub does no work), one
 * evaluation at a time. The evaluation itself runs off the event loop (see Evaluator).
 */
export class PeriodicEvaluation {
  private latestResult: Evaluation | null = null;
  private running: Promise<Evaluation> | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  /** Advances on reset(): an evaluation started before it does not become `latest`. */
  private generation = 0;

  constructor(private readonly options: PeriodicEvaluationOptions) {
    this.latestResult = options.latest ?? null;
    this.timer = setInterval(() => this.tick(), options.intervalMs);
    this.timer.unref();
  }

  private closed = false;

  get latest(): Evaluation | null {
    return this.latestResult;
  }

  /** Evaluates the current weights now (after any evaluation already running). */
  async evaluateNow(): Promise<Evaluation> {
    if (this.running) await this.running.catch(() => undefined);
    return this.run();
  }

  /** The run started over: forget the last result, and drop one still running on the old weights. */
  reset(): void {
    this.latestResult = null;
    this.generation++;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.running) return;
    // A periodic evaluation cut short by the hub's shutdown (its Evaluator closed) is no error.
    this.run().catch((error: unknown) => {
      if (!this.closed) this.options.onError(error);
    });
  }

  private run(): Promise<Evaluation> {
    const generation = this.generation;
    const job = (async () => {
      const snapshot = await this.options.snapshot();
      // Weights unchanged since the last evaluation: nothing new to learn (a carried-over result is
      // measured again, which checks the restored weights).
      const last = this.latestResult;
      if (last && last !== this.options.latest && last.globalStep === snapshot.globalStep) return last;
      const result = await this.options.evaluate(snapshot.weights);
      const evaluation: Evaluation = {
        ...result,
        globalStep: snapshot.globalStep,
        examplesSeen: snapshot.examplesSeen,
        at: Date.now(),
      };
      const current = generation === this.generation;
      if (current && (!this.latestResult || evaluation.globalStep >= this.latestResult.globalStep)) {
        this.latestResult = evaluation;
      }
      return evaluation;
    })();
    this.running = job;
    const clear = () => {
      if (this.running === job) this.running = null;
    };
    job.then(clear, clear);
    return job;
  }
}
