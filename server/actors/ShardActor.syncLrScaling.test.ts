import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/random.js';
import type { SyncLrScaling } from '../optimizers/syncLrScaling.js';
import { createUpdateRule, OPTIMIZER_NAMES, type OptimizerName } from '../optimizers/updateRules.js';
import { ShardActor } from './ShardActor.js';
import { accumulate, applyRound } from './testing/shardRounds.js';

const OFFSET = 40;
const LENGTH = 16;
const LEARNING_RATE = 0.01;
const GRADIENTS = 4;

function randomFloats(seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: LENGTH }, () => random() * 2 - 1);
}

/** The shard's weights after one sync round of GRADIENTS gradients, equally weighted. */
function afterOneRound(optimizer: OptimizerName, scaling: SyncLrScaling | undefined): Float32Array {
  const actor = new ShardActor({
    index: 0,
    offset: OFFSET,
    initialWeights: randomFloats(1),
    rule: createUpdateRule(optimizer),
    learningRate: LEARNING_RATE,
    ...(scaling === undefined ? {} : { syncLrScaling: scaling }),
  });
  for (let g = 0; g < GRADIENTS; g++) {
    accumulate(actor, 0, [{ offset: OFFSET, values: randomFloats(100 + g) }], 64);
  }
  expect(applyRound(actor, 0).count).toBe(GRADIENTS);
  return actor.receive({ type: 'pull' }).weights;
}

/** The update rule applied by hand, once, to the mean of the same gradients at `lr`. */
function byHand(optimizer: OptimizerName, lr: number): Float32Array {
  const rule = createUpdateRule(optimizer);
  const weights = randomFloats(1);
  const mean = new Float32Array(LENGTH);
  for (let g = 0; g < GRADIENTS; g++) {
    const values = randomFloats(100 + g);
    for (let i = 0; i < LENGTH; i++) mean[i] += values[i] / GRADIENTS;
  }
  rule.apply(weights, mean, rule.createState(LENGTH), lr);
  return weights;
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  const worst = actual.reduce((w, a, i) => Math.max(w, Math.abs(a - expected[i])), 0);
  // float32 rounding of the mean; a step at lr against lr x 4 differs by ~1e-2 here.
  expect(worst).toBeLessThan(1e-6);
}

describe('sync rounds: the learning rate x the gradients or not (issue 14, item 9)', () => {
  // auto: the linear scaling rule for each, as bench figure 9 measured (adam too, up to 8 workers).
  const auto: Record<OptimizerName, number> = { sgd: GRADIENTS, momentum: GRADIENTS, adam: GRADIENTS };

  it.each(OPTIMIZER_NAMES)('auto (the default): %s applies the mean at its own rule', (optimizer) => {
    const expected = byHand(optimizer, LEARNING_RATE * auto[optimizer]);
    expectClose(afterOneRound(optimizer, undefined), expected);
    expectClose(afterOneRound(optimizer, 'auto'), expected);
  });

  it('adam under none takes the step of lr, not of lr x N (SyncReplicasOptimizer)', () => {
    const unscaled = byHand('adam', LEARNING_RATE);
    const scaled = byHand('adam', LEARNING_RATE * GRADIENTS);
    const actual = afterOneRound('adam', 'none');
    expectClose(actual, unscaled);
    expect(actual.some((w, i) => Math.abs(w - scaled[i]) > 1e-3)).toBe(true);
  });

  it.each(OPTIMIZER_NAMES)('linear, sqrt and none override the rule of %s', (optimizer) => {
    expectClose(afterOneRound(optimizer, 'linear'), byHand(optimizer, LEARNING_RATE * GRADIENTS));
    expectClose(afterOneRound(optimizer, 'sqrt'), byHand(optimizer, LEARNING_RATE * Math.sqrt(GRADIENTS)));
    expectClose(afterOneRound(optimizer, 'none'), byHand(optimizer, LEARNING_RATE));
  });
});
