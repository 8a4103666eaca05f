import type { OuterStep } from '../actors/ShardActor.js';

/**
 * Local mode's outer optimizers: pure functions on a shard's float32 vectors, no tf, no sockets.
 *
 * `delta` is the round's combined weight change (start minus end of the workers' inner steps), so it
 * plays the part of a gradient: `average` moves the weights to the workers' mean end point, `nesterov`
 * is DiLoCo's outer step.
 */

/** Throws RangeError for hyper-parameters no outer step can use: lr > 0 and finite, momentum in [0, 1). */
export function checkOuterStep(step: OuterStep): void {
  switch (step.optimizer) {
    case 'average':
      return;
    case 'nesterov':
      if (!(step.lr > 0) || !Number.isFinite(step.lr)) {
        throw new RangeError(`outer learning rate must be a positive number, got ${step.lr}`);
      }
      if (!(step.momentum >= 0 && step.momentum < 1)) {
        throw new RangeError(`outer momentum must be in [0, 1), got ${step.momentum}`);
      }
      return;
    default:
      // Reachable from untyped input (a NATS frame from another build): refuse rather than guess.
      throw new RangeError(
        `unknown outer optimizer ${JSON.stringify((step as { optimizer: unknown }).optimizer)}`,
      );
  }
}

/**
 * Applies one outer step in place: `weights` (and, for nesterov, `momentum`) are written; `delta` is
 * only read. All three have the shard's length ([length] float32).
 *
 * - average: w -= delta.
 * - nesterov: acc = m * acc + delta; w -= lr * (delta + m * acc): what TF.js 4.22's
 *   `tf.train.momentum(lr, m, true)` does with `delta` as the gradient (momentum_optimizer.js:
 *   `newAccumulation = m * acc + g; value = c * (g + newAccumulation * m) + value` with c = -lr), one
 *   float32 rounding per operation as its kernels round, so the two agree bit for bit. lr and m are
 *   float32 there too (tf.scalar).
 *
 * `momentum` may be null for average (it has none); nesterov needs the buffer (zeros before the first
 * round). Throws RangeError, before writing anything, on mismatched lengths or bad hyper-parameters.
 */
export function applyOuterStep(
  weights: Float32Array,
  delta: Float32Array,
  momentum: Float32Array | null,
  step: OuterStep,
): void {
  checkOuterStep(step);
  if (delta.length !== weights.length) {
    throw new RangeError(`outer step: ${weights.length} weights but a change of ${delta.length}`);
  }
  if (step.optimizer === 'average') {
    for (let i = 0; i < weights.length; i++) weights[i] -= delta[i];
    return;
  }
  if (momentum === null || momentum.length !== weights.length) {
    throw new RangeError(
      `outer step: nesterov needs a momentum buffer of ${weights.length} floats, got ${momentum?.length ?? 'none'}`,
    );
  }
  const f = Math.fround;
  const lr = f(step.lr);
  const m = f(step.momentum);
  for (let i = 0; i < weights.length; i++) {
    const g = delta[i];
    const acc = f(f(m * momentum[i]) + g);
    momentum[i] = acc;
    // value + (-lr) * s rounds exactly as value - lr * s: IEEE negation is exact.
    weights[i] = f(weights[i] - f(lr * f(g + f(acc * m))));
  }
}

/** L2 norm of a vector, summed in float64 (a norm for reports, not a float32 kernel). */
export function l2Norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}
