export interface BatchSizerOptions {
  /** Wall time a gradient should take on every worker, so sync rounds finish together. */
  readonly targetStepMs: number;
  readonly minBatch: number;
  readonly maxBatch: number;
  /** Batch size for a worker not yet measured. */
  readonly initialBatch: number;
}

/** Weight of the newest measurement in the per-worker moving average of ms per example. */
const SMOOTHING = 0.3;

/**
 * Sizes each worker's batch from its measured speed (`--target-step-ms`): a phone and a desktop GPU
 * then spend about the same time per gradient. Speeds are a moving average of ms per example.
 */
export class BatchSizer {
  private readonly msPerExample = new Map<string, number>();

  constructor(private readonly options: BatchSizerOptions) {}

  record(workerId: string, examples: number, computeMs: number): void {
    if (!(examples > 0) || !(computeMs > 0)) return;
    const measured = computeMs / examples;
    const previous = this.msPerExample.get(workerId);
    this.msPerExample.set(
      workerId,
      previous === undefined ? measured : previous + SMOOTHING * (measured - previous),
    );
  }

  batchSizeFor(workerId: string): number {
    const { targetStepMs, minBatch, maxBatch, initialBatch } = this.options;
    const speed = this.msPerExample.get(workerId);
    if (speed === undefined) return initialBatch;
    return Math.max(minBatch, Math.min(maxBatch, Math.round(targetStepMs / speed)));
  }

  forget(workerId: string): void {
    this.msPerExample.delete(workerId);
  }
}
