import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { decodeExamples, encodeExamples } from './examplesCodec.js';
import { examplesToTensors } from './examplesTensors.js';
import { IMAGE_PIXELS } from './models.js';

describe('examplesToTensors', () => {
  beforeAll(async () => {
    // The pure-JS cpu backend suffices for these tiny tensors and needs no setup.
    await tf.setBackend('cpu');
  });

  it('scales pixels to [0, 1] and one-hot encodes a slice of the labels', async () => {
    const count = 4;
    const images = new Uint8Array(count * IMAGE_PIXELS);
    for (let i = 0; i < count; i++) {
      images[i * IMAGE_PIXELS] = 255; // top-left pixel
      images[i * IMAGE_PIXELS + 28 + 1] = i * 50; // row 1, col 1
    }
    const ex = decodeExamples(encodeExamples(images, Uint8Array.from([3, 0, 9, 5])));
    const before = tf.memory().numTensors;

    const { xs, ys } = examplesToTensors(ex, 1, 2);
    expect(xs.shape).toEqual([2, 28, 28, 1]);
    expect(xs.dtype).toBe('float32');
    expect(ys.shape).toEqual([2, 10]);
    expect(ys.dtype).toBe('float32');
    const x = (await xs.array()) as number[][][][];
    expect(x[0][0][0][0]).toBe(1);
    expect(x[0][1][1][0]).toBeCloseTo(50 / 255, 6);
    expect(x[1][1][1][0]).toBeCloseTo(100 / 255, 6);
    expect(x[1][27][27][0]).toBe(0);
    expect(await ys.array()).toEqual([
      [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ]);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([xs, ys]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('defaults to all examples and rejects out-of-range slices', () => {
    const ex = decodeExamples(encodeExamples(new Uint8Array(3 * IMAGE_PIXELS), Uint8Array.from([1, 2, 3])));
    const all = examplesToTensors(ex);
    expect(all.xs.shape[0]).toBe(3);
    tf.dispose([all.xs, all.ys]);
    const tail = examplesToTensors(ex, 2);
    expect(tail.ys.shape[0]).toBe(1);
    tf.dispose([tail.xs, tail.ys]);
    expect(() => examplesToTensors(ex, 2, 2)).toThrow(RangeError);
    expect(() => examplesToTensors(ex, -1, 1)).toThrow(RangeError);
  });
});
