/**
 * Local mode's arithmetic on flat weight vectors (layout order, float32): the change a worker pushes
 * and the merge that lets it keep training while that change and the next round's weights are on the
 * network. Pure functions: no tf, no sockets.
 *
 * The timeline of one worker, with W_r the weights round r handed out:
 *   start = W_r  -> inner steps ->  atPush;  push change W_r - atPush
 *   keep training (overlap)     ->  current; the next round's weights W_{r+1} arrive
 *   merge: model = W_{r+1} + (current - atPush), start = W_{r+1}
 * so the next change, W_{r+1} - end, carries the overlapped steps too: nothing trained is lost and
 * nothing is counted twice.
 */

/** The change a worker pushes: `start - end`. */
export function weightChange(start: Float32Array, end: Float32Array): Float32Array {
  assertSameLength(start, end);
  const change = new Float32Array(start.length);
  for (let i = 0; i < start.length; i++) change[i] = start[i] - end[i];
  return change;
}

/**
 * The weights to go on from once the next round's weights arrive: `next + (current - atPush)`, i.e. the
 * new global weights plus what the worker trained after it pushed.
 */
export function mergeDrift(next: Float32Array, current: Float32Array, atPush: Float32Array): Float32Array {
  assertSameLength(next, current);
  assertSameLength(next, atPush);
  const merged = new Float32Array(next.length);
  for (let i = 0; i < next.length; i++) merged[i] = next[i] + (current[i] - atPush[i]);
  return merged;
}

/** Euclidean norm, summed in float64. */
export function l2Norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

function assertSameLength(a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new RangeError(`weight vectors of ${a.length} and ${b.length} floats`);
}
