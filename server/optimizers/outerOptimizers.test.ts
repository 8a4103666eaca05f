import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/random.js';
import type { OuterStep } from '../actors/ShardActor.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { applyOuterStep, checkOuterStep, l2Norm } from './outerOptimizers.js';

/** DiLoCo's outer hyper-parameters, the defaults of `--outer-lr` and `--outer-momentum`. */
const DILOCO: OuterStep = { optimizer: 'nesterov', lr: 0.7, momentum: 0.9 };

function randomFloats(seed: number, n: number, scale = 1): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

/** Bit-for-bit equality (toEqual on numbers would let -0 and 0 pass as one). */
function bytesOf(values: Float32Array): number[] {
  return Array.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

describe('nesterov outer step by hand', () => {
  // lr and momentum 1/2 and dyadic values keep every intermediate exact in float32, so the numbers
  // below are the hand computation itself:
  //   acc = m * acc + d; w -= lr * (d + m * acc)
  const step: OuterStep = { optimizer: 'nesterov', lr: 0.5, momentum: 0.5 };

  it('two successive rounds', () => {
    const weights = Float32Array.from([1, 2, -1, 0.5]);
    const momentum = new Float32Array(4);
    // Round 1: acc = d1 = [0.5, -1, 0.25, 2]; w -= 0.5 * (d1 + 0.5 * d1) = 0.75 * d1.
    applyOuterStep(weights, Float32Array.from([0.5, -1, 0.25, 2]), momentum, step);
    expect(Array.from(momentum)).toEqual([0.5, -1, 0.25, 2]);
    expect(Array.from(weights)).toEqual([0.625, 2.75, -1.1875, -1]);
    // Round 2: d2 = [1, 0.5, -0.5, 0]; acc = 0.5 * [0.5, -1, 0.25, 2] + d2 = [1.25, 0, -0.375, 1];
    // d2 + 0.5 * acc = [1.625, 0.5, -0.6875, 0.5]; w -= 0.5 * that = [0.8125, 0.25, -0.34375, 0.25].
    applyOuterStep(weights, Float32Array.from([1, 0.5, -0.5, 0]), momentum, step);
    expect(Array.from(momentum)).toEqual([1.25, 0, -0.375, 1]);
    expect(Array.from(weights)).toEqual([-0.1875, 2.5, -0.84375, -1.25]);
  });

  it('rounds each operation to float32, as the TF.js kernels do', () => {
    // One coordinate at DiLoCo's lr 0.7 and momentum 0.9: w = 1, d = 0.3, acc = 0, so acc becomes
    // fround(0.3) and w = 1 - 0.7 * (0.3 + 0.9 * 0.3), each operation rounded to float32.
    const f = Math.fround;
    const perOperation = f(1 - f(f(0.7) * f(f(0.3) + f(f(0.3) * f(0.9)))));
    expect(perOperation).toBe(0.6009999513626099);
    // Rounded once at the end instead, the same formula lands one float32 step away.
    expect(f(1 - f(0.7) * (f(0.3) + f(0.3) * f(0.9)))).toBe(0.6010000109672546);
    const weights = Float32Array.from([1]);
    const momentum = new Float32Array(1);
    applyOuterStep(weights, Float32Array.from([0.3]), momentum, DILOCO);
    expect(momentum[0]).toBe(f(0.3));
    expect(weights[0]).toBe(0.6009999513626099);
  });

  it('momentum 0 is plain gradient descent on the change', () => {
    const weights = Float32Array.from([1, 2]);
    applyOuterStep(weights, Float32Array.from([0.5, -0.25]), new Float32Array(2), {
      optimizer: 'nesterov',
      lr: 0.5,
      momentum: 0,
    });
    expect(Array.from(weights)).toEqual([0.75, 2.125]);
  });
});

describe('nesterov outer step against tf.train.momentum(lr, m, true)', () => {
  beforeAll(async () => {
    // The cpu backend: TF.js's reference kernels (plain float32 arithmetic, one rounding per op).
    await initNodeTf('cpu');
  });

  it.each([
    ['DiLoCo lr 0.7, momentum 0.9', DILOCO],
    ['lr 0.1, momentum 0.5', { optimizer: 'nesterov', lr: 0.1, momentum: 0.5 } as const],
  ])('%s: bit-identical weights over several rounds of the mean change', (_name, step) => {
    const LENGTH = 257;
    const ROUNDS = 6;
    const WORKERS = 3;
    const weights = randomFloats(1, LENGTH);
    const momentum = new Float32Array(LENGTH);
    if (step.optimizer !== 'nesterov') throw new Error('nesterov cases only');
    const optimizer = tf.train.momentum(step.lr, step.momentum, true);
    // A copy: the cpu backend keeps the array it is given, and applyOuterStep writes `weights` in place.
    const variable = tf.variable(
      tf.tensor1d(Float32Array.from(weights)),
      true,
      `outer_${step.lr}_${step.momentum}`,
    );
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // The mean of the workers' changes, in float32 as the shard computes it.
        const mean = new Float32Array(LENGTH);
        for (let w = 0; w < WORKERS; w++) {
          const change = randomFloats(100 * round + w, LENGTH, 0.05);
          for (let i = 0; i < LENGTH; i++) mean[i] += change[i];
        }
        for (let i = 0; i < LENGTH; i++) mean[i] /= WORKERS;

        applyOuterStep(weights, mean, momentum, step);
        const gradient = tf.tensor1d(mean);
        optimizer.applyGradients([{ name: variable.name, tensor: gradient }]);
        gradient.dispose();
        expect(bytesOf(weights)).toEqual(bytesOf(variable.dataSync() as Float32Array));
      }
    } finally {
      variable.dispose();
      optimizer.dispose();
    }
  });
});

describe('average outer step', () => {
  it('moves the weights to the workers’ mean end point: w - mean(start - end)', () => {
    const start = Float32Array.from([1, 2, -1, 0.5]);
    const ends = [
      [0, 3, -1.5, 0.5],
      [1, 3, -1, -3.5],
    ];
    const mean = Float32Array.from(start, (s, i) => (s - ends[0][i] + (s - ends[1][i])) / 2);
    const weights = Float32Array.from(start);
    applyOuterStep(weights, mean, null, { optimizer: 'average' });
    expect(Array.from(weights)).toEqual([0.5, 3, -1.25, -1.5]);
  });

  it('leaves a momentum buffer it is given alone', () => {
    const momentum = Float32Array.from([7, 7]);
    applyOuterStep(Float32Array.from([1, 1]), Float32Array.from([1, 1]), momentum, { optimizer: 'average' });
    expect(Array.from(momentum)).toEqual([7, 7]);
  });
});

describe('outer step refusals', () => {
  it.each([
    ['lr 0', { optimizer: 'nesterov', lr: 0, momentum: 0.9 }],
    ['lr < 0', { optimizer: 'nesterov', lr: -0.7, momentum: 0.9 }],
    ['lr NaN', { optimizer: 'nesterov', lr: NaN, momentum: 0.9 }],
    ['lr Infinity', { optimizer: 'nesterov', lr: Infinity, momentum: 0.9 }],
    ['momentum 1', { optimizer: 'nesterov', lr: 0.7, momentum: 1 }],
    ['momentum < 0', { optimizer: 'nesterov', lr: 0.7, momentum: -0.1 }],
    ['momentum NaN', { optimizer: 'nesterov', lr: 0.7, momentum: NaN }],
    ['an unknown optimizer', { optimizer: 'adam' } as unknown as OuterStep],
  ] as [string, OuterStep][])('%s: RangeError, nothing written', (_name, step) => {
    const weights = Float32Array.from([1, 2]);
    const momentum = Float32Array.from([3, 4]);
    expect(() => checkOuterStep(step)).toThrow(RangeError);
    expect(() => applyOuterStep(weights, Float32Array.from([1, 1]), momentum, step)).toThrow(RangeError);
    expect(Array.from(weights)).toEqual([1, 2]);
    expect(Array.from(momentum)).toEqual([3, 4]);
  });

  it.each([
    ['a change of another length (nesterov)', 3, 2, DILOCO],
    ['a momentum of another length', 2, 3, DILOCO],
    ['a change of another length (average)', 3, 2, { optimizer: 'average' } as const],
  ])('%s: RangeError, nothing written', (_name, deltaLength, momentumLength, step) => {
    const weights = Float32Array.from([1, 2]);
    const momentum = new Float32Array(momentumLength);
    expect(() => applyOuterStep(weights, new Float32Array(deltaLength).fill(1), momentum, step)).toThrow(
      RangeError,
    );
    expect(Array.from(weights)).toEqual([1, 2]);
    expect(Array.from(momentum)).toEqual(new Array(momentumLength).fill(0));
  });

  it('nesterov without a momentum buffer: RangeError', () => {
    expect(() => applyOuterStep(new Float32Array(2), new Float32Array(2), null, DILOCO)).toThrow(RangeError);
  });
});

it('l2Norm', () => {
  expect(l2Norm(Float32Array.from([3, -4]))).toBe(5);
  expect(l2Norm(new Float32Array(0))).toBe(0);
});
