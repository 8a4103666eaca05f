import * as tf from '@tensorflow/tfjs';
import type { ParameterLayout } from './layout.js';

/**
 * The model side of a gradient step, shared by the Node worker, the browser worker and the hub's
 * evaluator. Reads are asynchronous only (`await t.data()`): `dataSync()` returned zeros or lost the
 * device on WebGPU here.
 */

/** The model's trainable weights as one flat float32 vector in layout order. */
export async function readFlatWeights(model: tf.LayersModel, layout: ParameterLayout): Promise<Float32Array> {
  const flat = new Float32Array(layout.totalLength);
  const weights = model.trainableWeights;
  for (let i = 0; i < weights.length; i++) {
    flat.set((await weights[i].read().data()) as Float32Array, layout.tensors[i].offset);
  }
  return flat;
}

/** Writes a flat float32 vector (layout order) into the model's trainable weights. */
export function writeFlatWeights(model: tf.LayersModel, layout: ParameterLayout, flat: Float32Array): void {
  if (flat.length !== layout.totalLength) {
    throw new RangeError(`weights have ${flat.length} floats; the layout needs ${layout.totalLength}`);
  }
  const weights = model.trainableWeights;
  tf.tidy(() => {
    layout.tensors.forEach((slot, i) => {
      // slice(): tf.tensor may keep a reference to the array it is given, and `flat` belongs to the caller.
      weights[i].write(tf.tensor(flat.slice(slot.offset, slot.offset + slot.length), [...slot.shape]));
    });
  });
}

/** Mean categorical cross-entropy of softmax outputs against one-hot labels. */
export function crossEntropy(labels: tf.Tensor, predictions: tf.Tensor): tf.Scalar {
  return tf.metrics.categoricalCrossentropy(labels, predictions).mean();
}

export interface GradientResult {
  /** Mean loss of the batch before the update. */
  readonly loss: number;
  /** d loss / d weights, flat float32 in layout order. */
  readonly gradient: Float32Array;
}

/**
 * Computes the loss gradient on one batch with `tf.variableGrads`, apart from applying it (the
 * hub applies). All intermediate tensors are released; only the two results are read back.
 */
export async function computeGradients(
  model: tf.LayersModel,
  layout: ParameterLayout,
  xs: tf.Tensor,
  ys: tf.Tensor,
): Promise<GradientResult> {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { loss, flat } = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(ys, model.apply(xs) as tf.Tensor),
      variables,
    );
    const parts = variables.map((v) => grads[v.name].reshape([-1]));
    return { loss: value, flat: tf.concat(parts) };
  });
  try {
    const [lossValue, gradient] = await Promise.all([loss.data(), flat.data()]);
    if (gradient.length !== layout.totalLength) {
      throw new Error(`gradient has ${gradient.length} floats; the layout needs ${layout.totalLength}`);
    }
    return { loss: lossValue[0], gradient: gradient as Float32Array };
  } finally {
    loss.dispose();
    flat.dispose();
  }
}
