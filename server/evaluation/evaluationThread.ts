/**
 * The evaluation thread (worker_threads): loads the MNIST test set, builds the model on TF.js wasm and
 * answers requests one at a time, so the hub's event loop never waits for TF.js: `evaluate` (test
 * accuracy), and the checks of volunteers' work, `gradient` (a batch's gradient, as a worker computes
 * it) and `replay` (a local round's inner steps).
 * Started by Evaluator: through evaluationThreadEntry.mjs from the sources, directly once built.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';

import { layoutOfModel, type ParameterLayout } from '../../shared/layout.js';
import { buildModel } from '../../shared/models.js';
import { examplesToTensors } from '../../shared/examplesTensors.js';
import { LocalTrainer } from '../../shared/LocalTrainer.js';
import { computeGradients, readFlatWeights, writeFlatWeights } from '../../shared/training.js';
import { weightChange } from '../../shared/weightChange.js';
import { loadMnistSplit } from '../data/mnist.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import type {
  ComputedUpdate,
  EvaluationResult,
  EvaluationThreadData,
  GradientRequest,
  ReplayRequest,
  ThreadMessage,
  ThreadRequest,
} from './messages.js';

interface Batch {
  readonly xs: tf.Tensor4D;
  readonly ys: tf.Tensor2D;
  readonly count: number;
}

function send(message: ThreadMessage): void {
  parentPort?.postMessage(message);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function evaluateBatches(
  model: tf.LayersModel,
  batches: readonly Batch[],
  sampleCount: number,
): Promise<EvaluationResult> {
  let lossSum = 0;
  let correct = 0;
  let examples = 0;
  const predictions: number[] = [];
  for (const batch of batches) {
    const wantSamples = predictions.length < sampleCount;
    const [loss, hits, classes] = tf.tidy(() => {
      const probs = model.predict(batch.xs) as tf.Tensor2D;
      // The same function tf.layers uses for the 'categoricalCrossentropy' loss (normalise, clip, -log).
      const perExample = tf.metrics.categoricalCrossentropy(batch.ys, probs);
      const predicted = tf.argMax(probs, -1);
      const match = tf.equal(predicted, tf.argMax(batch.ys, -1));
      return [tf.sum(perExample), tf.sum(tf.cast(match, 'float32')), wantSamples ? predicted : null];
    });
    const [lossData, hitsData, classData] = await Promise.all([loss.data(), hits.data(), classes?.data()]);
    tf.dispose([loss, hits]);
    classes?.dispose();
    lossSum += lossData[0];
    correct += hitsData[0];
    examples += batch.count;
    if (classData) predictions.push(...Array.from(classData.subarray(0, sampleCount - predictions.length)));
  }
  return { accuracy: correct / examples, loss: lossSum / examples, examples, predictions };
}

async function gradientOf(
  model: tf.LayersModel,
  layout: ParameterLayout,
  request: GradientRequest,
): Promise<ComputedUpdate> {
  writeFlatWeights(model, layout, request.weights);
  const { xs, ys } = examplesToTensors(request.examples);
  try {
    const { gradient, loss } = await computeGradients(model, layout, xs, ys);
    // A copy of its own: the result's buffer is transferred to the hub.
    return { values: gradient.slice(), loss };
  } finally {
    tf.dispose([xs, ys]);
  }
}

/** A fresh inner optimizer: the worker's state from earlier rounds is not known here. */
async function replayOf(
  model: tf.LayersModel,
  layout: ParameterLayout,
  request: ReplayRequest,
): Promise<ComputedUpdate> {
  writeFlatWeights(model, layout, request.weights);
  const trainer = new LocalTrainer(model, request.optimizer, request.learningRate);
  let lossSum = 0;
  try {
    for (const batch of request.batches) {
      const { xs, ys } = examplesToTensors(batch);
      try {
        lossSum += await trainer.step(xs, ys);
      } finally {
        tf.dispose([xs, ys]);
      }
    }
    const end = await readFlatWeights(model, layout);
    return { values: weightChange(request.weights, end), loss: lossSum / request.batches.length };
  } finally {
    trainer.dispose();
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('evaluationThread must run inside a worker_threads Worker');
  const options = workerData as EvaluationThreadData;

  let model: tf.LayersModel;
  let layout: ParameterLayout;
  let batches: Batch[];
  let backend: string;
  try {
    backend = await initNodeTf('wasm');
    const test = await loadMnistSplit('test', { dir: options.dataDir });
    if (!Number.isInteger(options.testSubset) || options.testSubset < 1 || options.testSubset > test.count) {
      throw new RangeError(`testSubset must be an integer in 1..${test.count}, got ${options.testSubset}`);
    }
    model = buildModel(options.model);
    layout = layoutOfModel(model);
    // Tensors for the whole subset are built once (~3 MB per 1,000 examples) and reused by every call.
    batches = [];
    for (let start = 0; start < options.testSubset; start += options.batchSize) {
      const count = Math.min(options.batchSize, options.testSubset - start);
      batches.push({ ...examplesToTensors(test, start, count), count });
    }
  } catch (err) {
    send({ type: 'failed', message: messageOf(err) });
    return;
  }

  // One evaluation at a time: requests that arrive during one wait their turn, in order.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (request: ThreadRequest) => {
    queue = queue.then(async () => {
      try {
        switch (request.type) {
          case 'evaluate':
            writeFlatWeights(model, layout, request.weights);
            send({
              type: 'result',
              id: request.id,
              result: await evaluateBatches(model, batches, options.sampleCount),
            });
            break;
          case 'gradient':
          case 'replay': {
            const result = await (request.type === 'gradient'
              ? gradientOf(model, layout, request)
              : replayOf(model, layout, request));
            port.postMessage({ type: 'result', id: request.id, result } satisfies ThreadMessage, [
              result.values.buffer as ArrayBuffer,
            ]);
            break;
          }
        }
      } catch (err) {
        send({ type: 'error', id: request.id, message: messageOf(err) });
      }
    });
  });
  send({ type: 'ready', parameterCount: layout.totalLength, examples: options.testSubset, backend });
}

void main();
