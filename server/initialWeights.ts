import type { ParameterLayout } from '../shared/layout.js';
import { layoutOfModel } from '../shared/layout.js';
import { buildModel, type ModelName } from '../shared/models.js';
import { readFlatWeights } from '../shared/training.js';
import { withSeededMathRandom } from './testing/seededInit.js';

/**
 * A fresh model's layout and initial weights (flat, layout order): the one place that builds them,
 * for the hub (createHub and its reset action) and for every shard process. TF.js draws its
 * initialisers' seeds from Math.random, so with `seed` the weights are those of a hub started inside
 * `withSeededMathRandom(seed, ...)`, and every shard process of a run (`--role shard --seed`) starts
 * from the same model. Without it each process draws its own model; its slice is still a valid
 * initialisation (each tensor's distribution depends only on its shape), only not a repeatable one.
 *
 * Needs an initialised TF.js backend (initNodeTf).
 */
export async function initialFlatWeights(
  model: ModelName,
  seed?: number,
): Promise<{ layout: ParameterLayout; weights: Float32Array }> {
  const build = async (): Promise<{ layout: ParameterLayout; weights: Float32Array }> => {
    const built = buildModel(model);
    try {
      const layout = layoutOfModel(built);
      return { layout, weights: await readFlatWeights(built, layout) };
    } finally {
      built.dispose();
    }
  };
  return seed === undefined ? build() : withSeededMathRandom(seed, build);
}
