import { mulberry32 } from '../../shared/random.js';

/**
 * Runs `body` with Math.random replaced by a seeded generator, and restores it after. TF.js draws the
 * seeds of its weight initialisers from Math.random when none is given, so a hub started inside
 * gets the same initial weights every time: runs that differ in one setting (a compression scheme)
 * then start from the same point, and their accuracies can be compared to a fraction of a point.
 * Only for the bench, tests and initialFlatWeights (shard processes of one run must start from one
 * model): nothing else should rely on Math.random being seeded.
 */
export async function withSeededMathRandom<T>(seed: number, body: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return await body();
  } finally {
    Math.random = original;
  }
}
