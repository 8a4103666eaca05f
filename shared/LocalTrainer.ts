import * as tf from '@tensorflow/tfjs';
import { crossEntropy } from './training.js';

/**
 * Local mode's inner training: a worker trains the round's weights itself with its own optimizer for
 * several steps (DiLoCo's inner AdamW, here the run's `--optimizer` and `--lr`). The optimizer lives
 * as long as the worker, so its state (Adam's moments, the momentum accumulator) carries from one round
 * to the next, as DiLoCo's inner optimizer does: a round only moves the weights, not the state.
 */

/** `--optimizer momentum`: the accumulator decay, the same the hub's update rule uses. */
export const INNER_MOMENTUM = 0.9;

/** The inner optimizer for the run's optimizer name: tf.train's, with TF.js defaults otherwise. */
export function innerOptimizer(name: string, learningRate: number): tf.Optimizer {
  switch (name) {
    case 'sgd':
      return tf.train.sgd(learningRate);
    case 'momentum':
      return tf.train.momentum(learningRate, INNER_MOMENTUM);
    case 'adam':
      return tf.train.adam(learningRate);
    default:
      throw new Error(`local mode: this worker has no inner optimizer "${name}" (sgd, momentum, adam)`);
  }
}

/** One batch of examples as model inputs; the trainer disposes both tensors after its step. */
export interface InnerBatch {
  /** [count, 28, 28, 1] float32 */
  readonly xs: tf.Tensor;
  /** [count, 10] float32 one-hot */
  readonly ys: tf.Tensor;
  readonly count: number;
  /** Where the examples came from, `[unitId, offset, count]`: listed in the push for spot checks. */
  readonly origin?: readonly [number, number, number];
}

/** Where the inner steps take their batches from (the worker's leased units, or a test's list). */
export interface BatchSource {
  /** The next batch of at most `size` examples. */
  next(size: number): Promise<InnerBatch>;
}

/** What inner steps have done since the weights a change is measured from: a push's figures. */
export interface LocalProgress {
  steps: number;
  examples: number;
  /** Sum of the steps' losses (mean batch loss before each update). */
  lossSum: number;
  /** Milliseconds spent in the steps themselves, without the yields between them. */
  computeMs: number;
  /** Each step's batch origin, in order, while every batch had one (a push lists them). */
  batches: [number, number, number][] | undefined;
}

export function noProgress(): LocalProgress {
  return { steps: 0, examples: 0, lossSum: 0, computeMs: 0, batches: [] };
}

export interface TrainOptions {
  /** Examples per inner step. */
  readonly batchSize: number;
  /** Asked before each step: false ends the run of steps. */
  readonly more: () => boolean;
  /** Awaited after each step, once its tensors are released (the page breathes, reports go out). */
  readonly between: () => Promise<void>;
}

/** The inner optimizer on a model's trainable weights; one per worker, kept across rounds. */
export class LocalTrainer {
  private readonly optimizer: tf.Optimizer;
  private readonly variables: tf.Variable[];

  constructor(
    private readonly model: tf.LayersModel,
    optimizerName: string,
    learningRate: number,
  ) {
    this.optimizer = innerOptimizer(optimizerName, learningRate);
    // The variables behind the layers: writing new weights into the model assigns to these same
    // variables, so the optimizer's per-variable state stays attached to them across rounds.
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** One inner step on a batch: the update is applied to the model. Returns the batch's mean loss before it. */
  async step(xs: tf.Tensor, ys: tf.Tensor): Promise<number> {
    const loss = tf.tidy(() => {
      const cost = this.optimizer.minimize(
        () => crossEntropy(ys, this.model.apply(xs) as tf.Tensor),
        true,
        this.variables,
      );
      if (cost === null) throw new Error('the inner optimizer returned no loss');
      return cost;
    });
    try {
      // Read back every step: an honest clock for the round's deadline (a GPU backend would otherwise
      // only have queued the work), and async, never dataSync (it lost the device on WebGPU here).
      return (await loss.data())[0];
    } finally {
      loss.dispose();
    }
  }

  /** Inner steps on batches from `source` while `more()` holds, counted into `progress`. */
  async train(source: BatchSource, progress: LocalProgress, options: TrainOptions): Promise<void> {
    while (options.more()) {
      const batch = await source.next(options.batchSize);
      const began = performance.now();
      let loss: number;
      try {
        loss = await this.step(batch.xs, batch.ys);
      } finally {
        batch.xs.dispose();
        batch.ys.dispose();
      }
      progress.computeMs += performance.now() - began;
      progress.steps++;
      progress.examples += batch.count;
      progress.lossSum += loss;
      // One batch without an origin (a test's source) and the list would not add up: drop it.
      if (batch.origin && progress.batches) progress.batches.push([...batch.origin]);
      else progress.batches = undefined;
      await options.between();
    }
  }

  /** Releases the optimizer's state (the model belongs to the caller). */
  dispose(): void {
    this.optimizer.dispose();
  }
}
