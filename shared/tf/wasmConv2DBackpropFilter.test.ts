import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initNodeTf } from '../../server/tf/initNodeTf.js';
import { buildModel, IMAGE_SIZE, NUM_CLASSES, type ModelName } from '../models.js';
import { registerWasmConv2DBackpropFilter } from './wasmConv2DBackpropFilter.js';

const TOLERANCE = 1e-4;

/** Seeded uniform [-1, 1) values, so both backends see identical inputs and failures reproduce. */
function randomValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Runs `fn` on `backend` and reads every result back; nothing created inside survives. */
async function onBackend(backend: 'wasm' | 'cpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initNodeTf(backend);
  const outs = tf.tidy(fn);
  const values = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(outs);
  return values;
}

type Shape4 = [number, number, number, number];
type Pad =
  'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  name: string;
  x: Shape4; // [batch, height, width, inChannels]
  filter: Shape4; // [kh, kw, inChannels, outChannels]
  pad: Pad;
}

const CASES: Case[] = [
  {
    name: 'batch 1, 1->8 channels, 5x5, valid (cnn conv1)',
    x: [1, 28, 28, 1],
    filter: [5, 5, 1, 8],
    pad: 'valid',
  },
  {
    name: 'batch 4, 8->16 channels, 5x5, valid (cnn conv2)',
    x: [4, 12, 12, 8],
    filter: [5, 5, 8, 16],
    pad: 'valid',
  },
  {
    name: 'batch 5, 3->4 channels, 3x3, same, non-square',
    x: [5, 9, 13, 3],
    filter: [3, 3, 3, 4],
    pad: 'same',
  },
  {
    name: 'batch 4, 3->8 channels, 5x5, same, non-square',
    x: [4, 10, 7, 3],
    filter: [5, 5, 3, 8],
    pad: 'same',
  },
  {
    name: 'batch 6, 8->3 channels, 5x5, valid, non-square',
    x: [6, 11, 8, 8],
    filter: [5, 5, 8, 3],
    pad: 'valid',
  },
  { name: 'batch 1, 1->1 channel, 3x3, same', x: [1, 6, 5, 1], filter: [3, 3, 1, 1], pad: 'same' },
  {
    name: 'batch 2, 3->5 channels, 4x4, same (uneven padding)',
    x: [2, 6, 9, 3],
    filter: [4, 4, 3, 5],
    pad: 'same',
  },
  { name: 'batch 2, 3->2 channels, 5x3 kernel, same', x: [2, 8, 6, 3], filter: [5, 3, 3, 2], pad: 'same' },
  { name: 'batch 3, 8->4 channels, 3x3, numeric pad 1', x: [3, 7, 10, 8], filter: [3, 3, 8, 4], pad: 1 },
  {
    name: 'batch 2, 3->4 channels, 3x3, explicit pads',
    x: [2, 7, 6, 3],
    filter: [3, 3, 3, 4],
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  },
  {
    name: 'batch 64, 1->8 channels, 5x5, valid (cnn conv1 at batch 64)',
    x: [64, 28, 28, 1],
    filter: [5, 5, 1, 8],
    pad: 'valid',
  },
];

/** The kernel itself, through the engine (tfjs does not export conv2dBackpropFilter as an op). */
function backpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: Shape4,
  pad: Pad,
  strides = 1,
): tf.Tensor4D {
  const attrs = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape };
  return tf
    .engine()
    .runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** Output shape of a stride-1 conv, from the same helper the backends use. */
function dyShape(c: Case): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, 1, 1, c.pad);
  return info.outShape;
}

beforeAll(async () => {
  expect(await initNodeTf('wasm')).toBe('wasm');
});

afterAll(async () => {
  await initNodeTf('wasm');
});

describe('registerWasmConv2DBackpropFilter', () => {
  it('registers a wasm kernel once and is idempotent', () => {
    const first = tf.getKernel(tf.Conv2DBackpropFilter, 'wasm');
    expect(first).toBeDefined();
    registerWasmConv2DBackpropFilter();
    registerWasmConv2DBackpropFilter();
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBe(first);
  });

  it('initNodeTf is idempotent and safe to call concurrently', async () => {
    expect(await Promise.all([initNodeTf(), initNodeTf(), initNodeTf('wasm')])).toEqual([
      'wasm',
      'wasm',
      'wasm',
    ]);
    expect(tf.getBackend()).toBe('wasm');
  });
});

describe('wasm Conv2DBackpropFilter matches the cpu backend', () => {
  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const xValues = randomValues(tf.util.sizeFromShape(c.x), 1000 + i);
      const outShape = dyShape(c);
      // Scaled by 1 / batch as a batch-mean loss scales it, so the gradient has training-sized
      // entries; the absolute tolerance would otherwise be below float32 summation error (see below).
      const dyValues = randomValues(tf.util.sizeFromShape(outShape), 2000 + i).map((v) => v / c.x[0]);
      const compute = () => {
        const x = tf.tensor4d(xValues, c.x);
        const dy = tf.tensor4d(dyValues, outShape);
        return [backpropFilter(x, dy, c.filter, c.pad)];
      };
      const [wasm] = await onBackend('wasm', compute);
      const [cpu] = await onBackend('cpu', compute);
      expect(wasm.length).toBe(tf.util.sizeFromShape(c.filter));
      expect(maxAbsDiff(wasm, cpu)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it('gives the same filter gradient through tf.grad of tf.conv2d (same and valid)', async () => {
    for (const pad of ['same', 'valid'] as const) {
      const xShape: Shape4 = [4, 11, 9, 3];
      const filterShape: Shape4 = [5, 5, 3, 8];
      const xValues = randomValues(tf.util.sizeFromShape(xShape), 31);
      const filterValues = randomValues(tf.util.sizeFromShape(filterShape), 32);
      const compute = () => {
        const x = tf.tensor4d(xValues, xShape);
        // A non-uniform upstream gradient: mean of squares rather than a plain sum.
        const loss = (w: tf.Tensor) =>
          tf
            .conv2d(x, w as tf.Tensor4D, 1, pad)
            .square()
            .mean();
        return [tf.grad(loss)(tf.tensor4d(filterValues, filterShape))];
      };
      const [wasm] = await onBackend('wasm', compute);
      const [cpu] = await onBackend('cpu', compute);
      expect(maxAbsDiff(wasm, cpu)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('is within float32 summation error of a float64 reference at full scale', async () => {
    // Unscaled [-1, 1) inputs at batch 64: each entry sums 36,864 products and reaches ~200. XNNPACK
    // accumulates in float32, the cpu backend in float64, so they differ by ~1e-3 here, while both
    // are within a few 1e-6 of the exact value relative to the largest entry.
    const c: Case = { name: 'full scale', x: [64, 28, 28, 1], filter: [5, 5, 1, 8], pad: 'valid' };
    const outShape = dyShape(c);
    const xValues = randomValues(tf.util.sizeFromShape(c.x), 41);
    const dyValues = randomValues(tf.util.sizeFromShape(outShape), 42);
    const [wasm] = await onBackend('wasm', () => [
      backpropFilter(tf.tensor4d(xValues, c.x), tf.tensor4d(dyValues, outShape), c.filter, c.pad),
    ]);
    const [batch, height, width, inChannels] = c.x;
    const [kh, kw, , outChannels] = c.filter;
    const [, outHeight, outWidth] = outShape;
    const exact = new Float64Array(wasm.length);
    for (let b = 0; b < batch; b++)
      for (let oy = 0; oy < outHeight; oy++)
        for (let ox = 0; ox < outWidth; ox++)
          for (let fy = 0; fy < kh; fy++)
            for (let fx = 0; fx < kw; fx++)
              for (let ci = 0; ci < inChannels; ci++) {
                const xv = xValues[((b * height + oy + fy) * width + ox + fx) * inChannels + ci];
                for (let co = 0; co < outChannels; co++) {
                  exact[((fy * kw + fx) * inChannels + ci) * outChannels + co] +=
                    xv * dyValues[((b * outHeight + oy) * outWidth + ox) * outChannels + co];
                }
              }
    const largest = exact.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(wasm, Float32Array.from(exact))).toBeLessThanOrEqual(1e-5 * largest);
  });

  it('throws a named error for what it does not support', async () => {
    await initNodeTf('wasm');
    tf.tidy(() => {
      const x = tf.zeros([1, 8, 8, 2]) as tf.Tensor4D;
      const dy = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
      expect(() => backpropFilter(x, dy, [3, 3, 2, 3], 'same', 2)).toThrow(/stride 1 only/);
      const dyNchw = tf.zeros([1, 3, 8, 8]) as tf.Tensor4D;
      const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] };
      expect(() =>
        tf
          .engine()
          .runKernel(tf.Conv2DBackpropFilter, { x, dy: dyNchw }, attrs as unknown as tf.NamedAttrMap),
      ).toThrow(/NHWC/);
    });
  });
});

describe('a full gradient step of a model matches between wasm and cpu', () => {
  async function gradients(name: ModelName, batch: number, backend: 'wasm' | 'cpu'): Promise<Float32Array[]> {
    await initNodeTf(backend);
    const model = buildModel(name);
    // The same weights on both backends: seeded values in the initialiser's range.
    model.setWeights(
      model.getWeights().map((w, i) =>
        tf.tensor(
          randomValues(w.size, 500 + i).map((v) => v * 0.2),
          w.shape,
        ),
      ),
    );
    const xs = randomValues(batch * IMAGE_SIZE * IMAGE_SIZE, 600).map((v) => (v + 1) / 2);
    const labels = Array.from({ length: batch }, (_, i) => (i * 7) % NUM_CLASSES);
    try {
      return await onBackend(backend, () => {
        const x = tf.tensor4d(xs, [batch, IMAGE_SIZE, IMAGE_SIZE, 1]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { grads } = tf.variableGrads(
          () => tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar,
          vars,
        );
        return vars.map((v) => grads[v.name]);
      });
    } finally {
      model.dispose();
    }
  }

  it.each([
    ['cnn', 16],
    ['deep-cnn', 2],
  ] as const)('%s, batch %d', async (name, batch) => {
    const wasm = await gradients(name, batch, 'wasm');
    const cpu = await gradients(name, batch, 'cpu');
    expect(wasm.length).toBe(cpu.length);
    wasm.forEach((g, i) => expect(maxAbsDiff(g, cpu[i]), `weight ${i}`).toBeLessThanOrEqual(TOLERANCE));
  });
});

describe('memory', () => {
  it('stays flat across repeated kernel calls', async () => {
    await initNodeTf('wasm');
    const xShape: Shape4 = [8, 12, 12, 8];
    const filterShape: Shape4 = [5, 5, 8, 16];
    const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(xShape), 7), xShape);
    const dy = tf.tensor4d(randomValues(8 * 12 * 12 * 16, 8), [8, 12, 12, 16]);
    const step = () => tf.tidy(() => backpropFilter(x, dy, filterShape, 'same').sum()).dispose();
    step(); // warm-up: first-call allocations are not leaks
    // numTensors counts engine tensors only; the kernel's own intermediates are backend data ids
    // that never become tensors, so numDataIds is what catches a missing disposeData.
    const before = {
      tensors: tf.memory().numTensors,
      bytes: tf.memory().numBytes,
      dataIds: tf.engine().backend.numDataIds(),
    };
    for (let i = 0; i < 50; i++) step();
    expect({
      tensors: tf.memory().numTensors,
      bytes: tf.memory().numBytes,
      dataIds: tf.engine().backend.numDataIds(),
    }).toEqual(before);
    tf.dispose([x, dy]);
  });
});
