import * as tf from '@tensorflow/tfjs';

import type { Examples } from './examplesCodec.js';
import { IMAGE_PIXELS, IMAGE_SIZE, NUM_CLASSES } from './models.js';

/**
 * Turns examples [start, start + count) into model inputs: xs [n, 28, 28, 1] float32 in [0, 1] and
 * ys [n, 10] float32 one-hot. The caller owns (and disposes) both tensors.
 */
export function examplesToTensors(
  ex: Examples,
  start = 0,
  count = ex.count - start,
): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(count) ||
    start < 0 ||
    count < 0 ||
    start + count > ex.count
  ) {
    throw new RangeError(`examples [${start}, ${start + count}) are outside [0, ${ex.count})`);
  }
  // Scaling in JS costs one pass over n*784 bytes and leaves no intermediate tensors behind.
  const pixels = ex.images.subarray(start * IMAGE_PIXELS, (start + count) * IMAGE_PIXELS);
  const scaled = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) scaled[i] = pixels[i] / 255;
  const oneHot = new Float32Array(count * NUM_CLASSES);
  for (let i = 0; i < count; i++) {
    const label = ex.labels[start + i];
    // An out-of-range label would silently set a bit in the next row.
    if (label >= NUM_CLASSES)
      throw new RangeError(`label ${start + i} is ${label}, expected 0..${NUM_CLASSES - 1}`);
    oneHot[i * NUM_CLASSES + label] = 1;
  }
  return {
    xs: tf.tensor4d(scaled, [count, IMAGE_SIZE, IMAGE_SIZE, 1], 'float32'),
    ys: tf.tensor2d(oneHot, [count, NUM_CLASSES], 'float32'),
  };
}
