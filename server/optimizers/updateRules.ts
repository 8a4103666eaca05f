import { KernelMemory } from './kernelMemory.js';

/**
 * Update rules for the shard actors: pure functions on Float32Arrays (no tf, no sockets).
 *
 * Each rule reproduces TF.js 4.22's optimizer of the same name (tfjs-core/src/optimizers/*_optimizer.ts)
 * so a model trained through the hub follows the same trajectory as `model.fit` with
 * `tf.train.sgd / momentum / adam` in one tab; the unit tests check this against TF.js itself.
 *
 * The loops are the hub's hot path (a 1M-float gradient per push) and run as WebAssembly SIMD kernels
 * (kernels.wat) in float32, one rounding per operation as TF.js does; the order of operations differs a
 * little from TF.js's, so results agree with it to float32 rounding, not bit for bit. Parameters and
 * slots from `allocate` live in the kernels' memory; the gradient is copied in (one memcpy) per call.
 */

export const OPTIMIZER_NAMES = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export function isOptimizerName(s: string): s is OptimizerName {
  return (OPTIMIZER_NAMES as readonly string[]).includes(s);
}

/**
 * Per-shard optimizer state. `step` = updates (apply calls) applied so far; `slots` = float32 arrays of the
 * shard's length: sgd [], momentum [accumulator], adam [m (first moment), v (second moment)].
 * Plain data so it can be checkpointed and restored as is.
 */
export interface OptimizerState {
  step: number;
  readonly slots: Float32Array[];
}

export interface OptimizerHyperParams {
  /** momentum: accumulator decay (TF.js has no default; 0.9 is the usual choice). */
  momentum: number;
  /** adam: first-moment decay. */
  beta1: number;
  /** adam: second-moment decay. */
  beta2: number;
  /** adam: added to sqrt(v-hat) in the denominator (TF.js adds it after the sqrt). */
  epsilon: number;
}

/**
 * `tf.train.adam(lr)` in TF.js 4.22 defaults to beta1 0.9, beta2 0.999 and epsilon = ENGINE.backend.epsilon(),
 * which is 1e-7 on float32 backends (cpu, wasm, webgpu, webgl with float32 textures) and 1e-4 only on a webgl
 * backend limited to float16. The hub computes in float32, so 1e-7.
 */
export const DEFAULT_HYPER_PARAMS: OptimizerHyperParams = Object.freeze({
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
});

export interface UpdateRule {
  readonly name: OptimizerName;
  /** Fresh state for a shard of `length` floats: step 0, zeroed slots. */
  createState(length: number): OptimizerState;
  /**
   * Zeroed parameters and a fresh state, all in one kernel memory, where `apply` runs without copying
   * them (a shard's storage). `apply` also takes arrays from anywhere else, at the price of copies.
   */
  allocate(length: number): { params: Float32Array; state: OptimizerState };
  /**
   * Applies one update in place: params[offset..offset+grad.length) and the same range of every state slot
   * change; nothing outside that range is touched. `lr` already includes any scaling (e.g. by worker count).
   * `state.step` increases by one per call, whatever the range: for adam it is the shard's bias-correction
   * counter (see `adam` below). Throws RangeError when the range or the state does not fit `params`.
   */
  apply(params: Float32Array, grad: Float32Array, state: OptimizerState, lr: number, offset?: number): void;
}

export function createUpdateRule(name: OptimizerName, hyper: Partial<OptimizerHyperParams> = {}): UpdateRule {
  const h: OptimizerHyperParams = { ...DEFAULT_HYPER_PARAMS, ...hyper };
  checkHyperParams(h);
  switch (name) {
    case 'sgd':
      return sgd();
    case 'momentum':
      return momentum(h.momentum);
    case 'adam':
      return adam(h.beta1, h.beta2, h.epsilon);
    default:
      // Reachable from untyped input (a CLI flag, a checkpoint file): refuse rather than guess.
      throw new RangeError(
        `unknown optimizer ${JSON.stringify(name as unknown)}; expected one of ${OPTIMIZER_NAMES.join(', ')}`,
      );
  }
}

/** TF.js SGDOptimizer: p += -lr * g. */
function sgd(): UpdateRule {
  return {
    name: 'sgd',
    ...storageWith(0),
    apply(params, grad, state, lr, offset = 0) {
      checkApply(params, grad, state, offset, 0);
      inKernelMemory(params, state.slots, (memory, [p]) => {
        memory.kernels.sgd(p + offset * 4, memory.stage(grad), grad.length, lr);
      });
      state.step++;
    },
  };
}

/** TF.js MomentumOptimizer, useNesterov false: acc = m * acc + g; p += -lr * acc. */
function momentum(m: number): UpdateRule {
  return {
    name: 'momentum',
    ...storageWith(1),
    apply(params, grad, state, lr, offset = 0) {
      checkApply(params, grad, state, offset, 1);
      inKernelMemory(params, state.slots, (memory, [p, acc]) => {
        const at = offset * 4;
        memory.kernels.momentum(p + at, acc + at, memory.stage(grad), grad.length, lr, m);
      });
      state.step++;
    },
  };
}

/**
 * TF.js AdamOptimizer:
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2
 *   p += -lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
 * with t = 1 on the first update. TF.js keeps beta^t as a float32 variable multiplied by beta once per
 * `applyGradients` call (for all of the model's variables together); we take t = state.step after the
 * increment and compute beta^t with Math.pow, so a restored checkpoint needs only `step`.
 *
 * Per-shard counter: every apply call advances `step`, including a call that covers only part of the shard
 * (a push of a subset of named tensors, via `offset`). So two calls on the two halves are two steps, not one:
 * the second half gets the bias correction of t = 2. To match one TF.js step over several tensors, apply
 * their gradients in one call over a contiguous range.
 */
function adam(beta1: number, beta2: number, epsilon: number): UpdateRule {
  return {
    name: 'adam',
    ...storageWith(2),
    apply(params, grad, state, lr, offset = 0) {
      checkApply(params, grad, state, offset, 2);
      const t = state.step + 1;
      // lr * m-hat = (lr / (1 - beta1^t)) * m; sqrt(v-hat) = sqrt(v) / sqrt(1 - beta2^t).
      const stepSize = lr / (1 - Math.pow(beta1, t));
      const invSqrtBias2 = 1 / Math.sqrt(1 - Math.pow(beta2, t));
      inKernelMemory(params, state.slots, (memory, [p, m, v]) => {
        const at = offset * 4;
        const g = memory.stage(grad);
        memory.kernels.adam(
          p + at,
          m + at,
          v + at,
          g,
          grad.length,
          stepSize,
          beta1,
          beta2,
          invSqrtBias2,
          epsilon,
        );
      });
      state.step = t;
    },
  };
}

/** `createState` and `allocate` for a rule with `slotCount` state slots. */
function storageWith(slotCount: number): Pick<UpdateRule, 'createState' | 'allocate'> {
  return {
    createState: (length) => newState(length, slotCount),
    allocate(length) {
      checkLength(length);
      const [params, ...slots] = new KernelMemory(length, 1 + slotCount).arrays;
      return { params, state: { step: 0, slots } };
    },
  };
}

/**
 * Runs a kernel on `params` and `slots` (given to it as byte pointers, in that order). Arrays from
 * `allocate` are already in one kernel memory; any others (tests, tools) are copied into a temporary
 * one and back, which gives the same results, only slower.
 */
function inKernelMemory(
  params: Float32Array,
  slots: readonly Float32Array[],
  run: (memory: KernelMemory, pointers: number[]) => void,
): void {
  const arrays = [params, ...slots];
  const memory = KernelMemory.holding(arrays);
  if (memory) {
    run(
      memory,
      arrays.map((a) => a.byteOffset),
    );
    return;
  }
  const temporary = new KernelMemory(params.length, arrays.length);
  arrays.forEach((array, k) => temporary.arrays[k].set(array));
  run(
    temporary,
    temporary.arrays.map((a) => a.byteOffset),
  );
  arrays.forEach((array, k) => array.set(temporary.arrays[k]));
}

function newState(length: number, slotCount: number): OptimizerState {
  checkLength(length);
  const slots: Float32Array[] = [];
  for (let k = 0; k < slotCount; k++) slots.push(new Float32Array(length));
  return { step: 0, slots };
}

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`state length must be a non-negative integer, got ${length}`);
  }
}

/** O(1) guards so a bad call fails loudly instead of writing past a range (typed arrays drop such writes). */
function checkApply(
  params: Float32Array,
  grad: Float32Array,
  state: OptimizerState,
  offset: number,
  slotCount: number,
): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + grad.length > params.length) {
    throw new RangeError(
      `gradient range [${offset}, ${offset + grad.length}) is outside the ${params.length} parameters`,
    );
  }
  if (state.slots.length !== slotCount) {
    throw new RangeError(`optimizer state has ${state.slots.length} slots, expected ${slotCount}`);
  }
  for (let k = 0; k < slotCount; k++) {
    if (state.slots[k].length !== params.length) {
      throw new RangeError(
        `optimizer slot ${k} has ${state.slots[k].length} floats, expected ${params.length} (the parameters)`,
      );
    }
  }
}

function checkHyperParams(h: OptimizerHyperParams): void {
  const inUnit = (x: number) => Number.isFinite(x) && x >= 0 && x < 1;
  if (!Number.isFinite(h.momentum) || h.momentum < 0) {
    throw new RangeError(`momentum must be finite and >= 0, got ${h.momentum}`);
  }
  if (!inUnit(h.beta1)) throw new RangeError(`beta1 must be in [0, 1), got ${h.beta1}`);
  if (!inUnit(h.beta2)) throw new RangeError(`beta2 must be in [0, 1), got ${h.beta2}`);
  if (!Number.isFinite(h.epsilon) || h.epsilon <= 0) {
    throw new RangeError(`epsilon must be finite and > 0, got ${h.epsilon}`);
  }
}
