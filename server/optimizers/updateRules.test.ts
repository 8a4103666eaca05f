import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/random.js';
import {
  createUpdateRule,
  DEFAULT_HYPER_PARAMS,
  isOptimizerName,
  OPTIMIZER_NAMES,
  type OptimizerHyperParams,
  type OptimizerName,
  type UpdateRule,
} from './updateRules';

const TOLERANCE = 1e-5;
const STEPS = 6;

function randomArray(rand: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function tfOptimizer(name: OptimizerName, lr: number, hyper?: Partial<OptimizerHyperParams>): tf.Optimizer {
  switch (name) {
    case 'sgd':
      return tf.train.sgd(lr);
    case 'momentum':
      return tf.train.momentum(lr, hyper?.momentum ?? DEFAULT_HYPER_PARAMS.momentum);
    case 'adam':
      // No hyper-parameters given: use TF.js's own defaults, which is what DEFAULT_HYPER_PARAMS must match.
      return hyper === undefined
        ? tf.train.adam(lr)
        : tf.train.adam(lr, hyper.beta1, hyper.beta2, hyper.epsilon);
  }
}

const LEARNING_RATES: Record<OptimizerName, number> = { sgd: 0.1, momentum: 0.05, adam: 0.01 };

/**
 * Runs STEPS updates through our rule (one flat vector) and through the TF.js optimizer (the same vector split
 * into `splits` tf.variables, updated together by one applyGradients call, as a model's weights would be).
 */
function compareWithTf(
  name: OptimizerName,
  seed: number,
  sizes: readonly number[],
  hyper?: Partial<OptimizerHyperParams>,
  gradScale = 2,
): number {
  const rand = mulberry32(seed);
  const total = sizes.reduce((s, n) => s + n, 0);
  const lr = LEARNING_RATES[name];
  const rule = createUpdateRule(name, hyper);
  const params = randomArray(rand, total);
  const state = rule.createState(total);

  const optimizer = tfOptimizer(name, lr, hyper);
  const variables: tf.Variable[] = [];
  let start = 0;
  for (const [k, n] of sizes.entries()) {
    variables.push(tf.variable(tf.tensor1d(params.slice(start, start + n)), true, `${name}_${seed}_${k}`));
    start += n;
  }
  try {
    for (let step = 0; step < STEPS; step++) {
      const grad = randomArray(rand, total, gradScale);
      rule.apply(params, grad, state, lr);
      const grads: tf.NamedTensorMap = {};
      start = 0;
      for (const [k, n] of sizes.entries()) {
        grads[variables[k].name] = tf.tensor1d(grad.subarray(start, start + n));
        start += n;
      }
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
    }
    expect(state.step).toBe(STEPS);
    const expected = new Float32Array(total);
    start = 0;
    for (const v of variables) {
      expected.set(v.dataSync() as Float32Array, start);
      start += v.size;
    }
    return maxAbsDiff(params, expected);
  } finally {
    tf.dispose(variables);
    optimizer.dispose();
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('update rules match TF.js 4.22 optimizers', () => {
  it('DEFAULT_HYPER_PARAMS.epsilon is the backend epsilon tf.train.adam uses by default', () => {
    expect(DEFAULT_HYPER_PARAMS.epsilon).toBe(tf.backend().epsilon());
  });

  for (const name of OPTIMIZER_NAMES) {
    it(`${name}: ${STEPS} steps on one variable, default hyper-parameters`, () => {
      expect(compareWithTf(name, 1, [1000])).toBeLessThanOrEqual(TOLERANCE);
    });

    it(`${name}: ${STEPS} steps on a flat vector vs several tf.variables in one applyGradients`, () => {
      expect(compareWithTf(name, 2, [300, 7, 500, 1])).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('adam: epsilon value and placement (after the sqrt) matter for tiny gradients', () => {
    // With |g| ~ 1e-6, sqrt(v-hat) ~ 1e-6 and epsilon 1e-7 changes each update by ~10% of lr.
    expect(compareWithTf('adam', 5, [500], undefined, 1e-6)).toBeLessThanOrEqual(TOLERANCE);
    expect(
      compareWithTf('adam', 6, [500], { beta1: 0.9, beta2: 0.999, epsilon: 1e-4 }, 1e-3),
    ).toBeLessThanOrEqual(TOLERANCE);
  });

  it('momentum and adam with non-default hyper-parameters', () => {
    expect(compareWithTf('momentum', 3, [777], { momentum: 0.5 })).toBeLessThanOrEqual(TOLERANCE);
    expect(compareWithTf('adam', 4, [777], { beta1: 0.8, beta2: 0.99, epsilon: 1e-4 })).toBeLessThanOrEqual(
      TOLERANCE,
    );
  });
});

describe('offset applies to part of the shard', () => {
  const N = 101;
  const HALF = 40;

  function setup(rule: UpdateRule, seed: number) {
    const rand = mulberry32(seed);
    const params = randomArray(rand, N);
    const state = rule.createState(N);
    // Warm the state up so the slots are not all zero.
    rule.apply(params, randomArray(rand, N), state, 0.01);
    const grad = randomArray(rand, N);
    return { params, state, grad };
  }

  function cloneState(state: { step: number; slots: Float32Array[] }) {
    return { step: state.step, slots: state.slots.map((s) => s.slice()) };
  }

  for (const name of ['sgd', 'momentum'] as const) {
    it(`${name}: two halves with offset equal one whole apply`, () => {
      const rule = createUpdateRule(name);
      const whole = setup(rule, 10);
      const halves = { params: whole.params.slice(), state: cloneState(whole.state), grad: whole.grad };

      rule.apply(whole.params, whole.grad, whole.state, 0.1);
      rule.apply(halves.params, halves.grad.subarray(0, HALF), halves.state, 0.1, 0);
      rule.apply(halves.params, halves.grad.subarray(HALF), halves.state, 0.1, HALF);

      expect(Array.from(halves.params)).toEqual(Array.from(whole.params));
      for (let k = 0; k < whole.state.slots.length; k++) {
        expect(Array.from(halves.state.slots[k])).toEqual(Array.from(whole.state.slots[k]));
      }
    });
  }

  it('a partial apply leaves params and slots outside its range untouched', () => {
    for (const name of OPTIMIZER_NAMES) {
      const rule = createUpdateRule(name);
      const { params, state, grad } = setup(rule, 11);
      const before = { params: params.slice(), slots: state.slots.map((s) => s.slice()) };
      rule.apply(params, grad.subarray(HALF, HALF + 20), state, 0.1, HALF);
      for (let i = 0; i < N; i++) {
        const inside = i >= HALF && i < HALF + 20;
        expect(params[i] !== before.params[i], `${name} params[${i}]`).toBe(inside);
        for (let k = 0; k < state.slots.length; k++) {
          if (!inside) expect(state.slots[k][i], `${name} slot ${k}[${i}]`).toBe(before.slots[k][i]);
        }
      }
    }
  });

  it('adam: each apply call is one step of the shard bias-correction counter, whatever its range', () => {
    const rule = createUpdateRule('adam');
    const whole = setup(rule, 12); // step 1 after the warm-up
    const halves = { params: whole.params.slice(), state: cloneState(whole.state), grad: whole.grad };
    // Reference for the second half: a state that is already at step 2 when the second half is applied.
    const atStep2 = { params: whole.params.slice(), state: cloneState(whole.state) };
    atStep2.state.step = 2;

    rule.apply(whole.params, whole.grad, whole.state, 0.1);
    expect(whole.state.step).toBe(2);

    rule.apply(halves.params, halves.grad.subarray(0, HALF), halves.state, 0.1, 0);
    expect(halves.state.step).toBe(2);
    // The first half was updated with t = 2, exactly as the whole apply did.
    expect(Array.from(halves.params.subarray(0, HALF))).toEqual(Array.from(whole.params.subarray(0, HALF)));

    rule.apply(halves.params, halves.grad.subarray(HALF), halves.state, 0.1, HALF);
    expect(halves.state.step).toBe(3);
    // The second half was updated with t = 3: it differs from the whole apply...
    expect(maxAbsDiff(halves.params.subarray(HALF), whole.params.subarray(HALF))).toBeGreaterThan(0);
    // ...and equals an update of that range from a counter at step 2.
    rule.apply(atStep2.params, whole.grad.subarray(HALF), atStep2.state, 0.1, HALF);
    expect(Array.from(halves.params.subarray(HALF))).toEqual(Array.from(atStep2.params.subarray(HALF)));
  });
});

describe('state and validation', () => {
  it('createState: step 0 and zeroed slots of the shard length (sgd 0, momentum 1, adam 2)', () => {
    const counts: Record<OptimizerName, number> = { sgd: 0, momentum: 1, adam: 2 };
    for (const name of OPTIMIZER_NAMES) {
      const state = createUpdateRule(name).createState(17);
      expect(state.step).toBe(0);
      expect(state.slots).toHaveLength(counts[name]);
      for (const slot of state.slots) {
        expect(slot).toBeInstanceOf(Float32Array);
        expect(slot).toHaveLength(17);
        expect(slot.every((x) => x === 0)).toBe(true);
      }
    }
  });

  it('apply updates in place and never replaces the state arrays', () => {
    const rand = mulberry32(20);
    for (const name of OPTIMIZER_NAMES) {
      const rule = createUpdateRule(name);
      const params = randomArray(rand, 64);
      const state = rule.createState(64);
      const slotsArray = state.slots;
      const slots = [...state.slots];
      for (let step = 0; step < 3; step++) rule.apply(params, randomArray(rand, 64), state, 0.1);
      expect(state.slots).toBe(slotsArray);
      expect(state.slots).toHaveLength(slots.length);
      state.slots.forEach((slot, k) => expect(slot).toBe(slots[k]));
      expect(state.step).toBe(3);
    }
  });

  it('rejects an unknown optimizer name', () => {
    expect(isOptimizerName('adam')).toBe(true);
    expect(isOptimizerName('rmsprop')).toBe(false);
    expect(isOptimizerName('')).toBe(false);
    expect(() => createUpdateRule('rmsprop' as OptimizerName)).toThrow(/unknown optimizer "rmsprop"/);
  });

  it('rejects invalid hyper-parameters', () => {
    expect(() => createUpdateRule('momentum', { momentum: Number.NaN })).toThrow(RangeError);
    expect(() => createUpdateRule('adam', { beta1: 1 })).toThrow(RangeError);
    expect(() => createUpdateRule('adam', { beta2: -0.1 })).toThrow(RangeError);
    expect(() => createUpdateRule('adam', { epsilon: 0 })).toThrow(RangeError);
  });

  it('rejects a range outside the params and a state that does not fit', () => {
    const rule = createUpdateRule('momentum');
    const params = new Float32Array(10);
    const state = rule.createState(10);
    expect(() => rule.apply(params, new Float32Array(11), state, 0.1)).toThrow(RangeError);
    expect(() => rule.apply(params, new Float32Array(4), state, 0.1, 7)).toThrow(RangeError);
    expect(() => rule.apply(params, new Float32Array(4), state, 0.1, -1)).toThrow(RangeError);
    expect(() => rule.apply(params, new Float32Array(4), state, 0.1, 1.5)).toThrow(RangeError);
    expect(() => rule.apply(params, new Float32Array(4), rule.createState(9), 0.1)).toThrow(RangeError);
    expect(() =>
      rule.apply(params, new Float32Array(4), createUpdateRule('adam').createState(10), 0.1),
    ).toThrow(RangeError);
    expect(() => rule.createState(-1)).toThrow(RangeError);
    expect(state.step).toBe(0);
    expect(params.every((x) => x === 0)).toBe(true);
  });
});

describe('storage from allocate (the kernels run in place) and arrays from anywhere (copied in and out)', () => {
  // Odd lengths and offsets: the kernels' 4-float loop plus their scalar tail, at unaligned pointers.
  const N = 1_003;
  const OFFSET = 7;
  const PIECE = 990;

  for (const name of OPTIMIZER_NAMES) {
    it(`${name}: give bit-identical results over several partial and whole applies`, () => {
      const rule = createUpdateRule(name);
      const rand = mulberry32(21);
      const initial = randomArray(rand, N);
      const inPlace = rule.allocate(N);
      inPlace.params.set(initial);
      const copied = { params: initial.slice(), state: rule.createState(N) };
      expect(inPlace.state.slots.every((slot) => slot.every((x) => x === 0))).toBe(true);
      for (let step = 0; step < 4; step++) {
        const grad = randomArray(rand, N, 3);
        const piece = step % 2 === 0 ? grad : grad.subarray(0, PIECE);
        const offset = step % 2 === 0 ? 0 : OFFSET;
        rule.apply(inPlace.params, piece, inPlace.state, 0.01, offset);
        rule.apply(copied.params, piece, copied.state, 0.01, offset);
      }
      expect(inPlace.state.step).toBe(copied.state.step);
      expect(Array.from(inPlace.params)).toEqual(Array.from(copied.params));
      inPlace.state.slots.forEach((slot, k) =>
        expect(Array.from(slot)).toEqual(Array.from(copied.state.slots[k])),
      );
      expect(maxAbsDiff(inPlace.params, initial)).toBeGreaterThan(0);
    });
  }

  it('a gradient from another memory moves exactly its range, by lr x g', () => {
    const rule = createUpdateRule('sgd');
    const { params } = rule.allocate(8);
    const other = rule.allocate(8);
    other.params.fill(1);
    rule.apply(params, other.params.subarray(0, 4), rule.createState(8), 0.5, 2);
    expect(Array.from(params)).toEqual([0, 0, -0.5, -0.5, -0.5, -0.5, 0, 0]);
  });
});
