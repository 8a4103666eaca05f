/** How a volunteer's update compares with the hub's own computation of it. */
export interface Agreement {
  /** Cosine of the angle between the two: 1 when they point the same way. */
  readonly cosine: number;
  /** The volunteer's L2 norm over the hub's. */
  readonly normRatio: number;
}

export interface Tolerance {
  /** The least cosine that counts as the same update. */
  readonly minCosine: number;
  /** The norm ratio must lie in [1 / maxNormRatio, maxNormRatio]. */
  readonly maxNormRatio: number;
}

/**
 * A gradient recomputed on the same weights and examples: backends differ in summation order and
 * (WebGL, WebGPU) in their float paths, by far less than this. A wrong kernel, zeros, a sign flip or
 * a scaled or plausible-looking fake lies far outside it.
 */
export const GRADIENT_TOLERANCE: Tolerance = { minCosine: 0.99, maxNormRatio: 1.1 };

/**
 * A local round replayed with a fresh inner optimizer: the worker's optimizer state from earlier
 * rounds (Adam's moments) and its overlapped steps are not replayed, so an honest change agrees only
 * roughly. Measured (cnn, one worker, 120 rounds of 20 steps, every 4th replayed): under adam the
 * honest cosine fell from 1.0 to 0.54-0.64 and the norm ratio to 0.30-0.52 as the moments built up;
 * under sgd the cosine stayed at 0.88-0.99. The bar sits below that spread: it catches a change that
 * is flipped, noise, or not trained from the round's weights on the listed examples at all, not one
 * that is merely biased (see README, "Bad volunteers").
 */
export const REPLAY_TOLERANCE: Tolerance = { minCosine: 0.3, maxNormRatio: 5 };

export function agreementOf(claimed: Float32Array, expected: Float32Array): Agreement {
  if (claimed.length !== expected.length) {
    throw new RangeError(`updates of ${claimed.length} and ${expected.length} floats cannot be compared`);
  }
  let dot = 0;
  let claimedSq = 0;
  let expectedSq = 0;
  for (let i = 0; i < claimed.length; i++) {
    dot += claimed[i] * expected[i];
    claimedSq += claimed[i] * claimed[i];
    expectedSq += expected[i] * expected[i];
  }
  const norms = Math.sqrt(claimedSq) * Math.sqrt(expectedSq);
  // Two zero updates agree; one zero update against a real one does not.
  const cosine = norms > 0 ? dot / norms : claimedSq === expectedSq ? 1 : 0;
  const normRatio = expectedSq > 0 ? Math.sqrt(claimedSq / expectedSq) : claimedSq > 0 ? Infinity : 1;
  return { cosine, normRatio };
}

export function agrees({ cosine, normRatio }: Agreement, tolerance: Tolerance): boolean {
  return (
    cosine >= tolerance.minCosine &&
    normRatio <= tolerance.maxNormRatio &&
    normRatio >= 1 / tolerance.maxNormRatio
  );
}

export function describeAgreement({ cosine, normRatio }: Agreement): string {
  return `cosine ${cosine.toFixed(4)}, norm ratio ${normRatio.toFixed(3)}`;
}
