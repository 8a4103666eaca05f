import type * as tf from '@tensorflow/tfjs';
import { examplesToTensors } from './examplesTensors.js';
import type { HubClient } from './HubClient.js';
import type { ParameterLayout } from './layout.js';
import { computeGradients, writeFlatWeights } from './training.js';

/**
 * Passes the hub's known-answer check: one gradient on the weights and examples the hub chose,
 * computed on this worker's backend exactly as a training step computes it. Resolves with how close
 * it came; rejects with KNOWN_ANSWER_FAILED when the backend computes wrong gradients (a browser then
 * tries its next backend). The model's weights are overwritten: the caller pulls before training.
 */
export async function passKnownAnswer(
  client: HubClient,
  model: tf.LayersModel,
  layout: ParameterLayout,
): Promise<{ cosine: number; normRatio: number; ms: number }> {
  const began = performance.now();
  const check = await client.knownAnswerCheck();
  writeFlatWeights(model, layout, check.weights);
  const { xs, ys } = examplesToTensors(check.examples);
  let result;
  try {
    result = await computeGradients(model, layout, xs, ys);
  } finally {
    xs.dispose();
    ys.dispose();
  }
  const agreement = await client.answerKnownAnswer(check.checkId, result.gradient, result.loss);
  return { ...agreement, ms: performance.now() - began };
}
