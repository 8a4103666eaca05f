import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import { HubClient, HubRequestError } from '../../shared/HubClient.js';
import { passKnownAnswer } from '../../shared/knownAnswer.js';
import { layoutOfModel } from '../../shared/layout.js';
import { buildModel } from '../../shared/models.js';
import { examplesToTensors } from '../../shared/examplesTensors.js';
import { computeGradients, writeFlatWeights } from '../../shared/training.js';
import type { RunningHub } from '../startHub.js';
import { startTestHub, testGradient } from '../testing/testHub.js';
import { initNodeTf } from '../tf/initNodeTf.js';

/**
 * The known-answer check at join, over real sockets with real TF.js on both sides: a worker's pushes
 * count once its backend computed one gradient the hub checked against its own. Each wrong answer a
 * broken backend (or a liar) could give is refused by name, and the hub's weights do not move.
 *
 * One hub for the file: a pass counts for an identity and a backend, and each test connects
 * volunteers of its own (new identities), so what one test's volunteers did decides nothing for
 * another's; the hub-wide counters are compared before and after instead of to zero.
 */
let hub: RunningHub;
const clients: HubClient[] = [];

beforeAll(async () => {
  await initNodeTf('wasm');
  hub = await startTestHub({ model: 'cnn', knownAnswer: true });
});
afterEach(() => clients.splice(0).forEach((c) => c.close()));
afterAll(() => hub?.close());

async function connect(backend = 'wasm', identity?: string): Promise<HubClient> {
  const client = await HubClient.connect({ url: hub.url, backend, ackTimeoutMs: 20_000, identity });
  clients.push(client);
  return client;
}

async function codeOf(promise: Promise<unknown>): Promise<string | null> {
  return promise.then(
    () => null,
    (error: unknown) => (error instanceof HubRequestError ? error.code : String(error)),
  );
}

/** An honest-looking push, by hand. */
async function push(client: HubClient): Promise<string | null> {
  const { versions } = await client.pull();
  const gradient = testGradient(client.config.params, 7).map((v) => v * 0.01);
  return codeOf(client.push({ gradient, versions, examples: 32, loss: 1 }));
}

/** The true answer to a check, then `lie` applied to it. */
async function answerWith(
  client: HubClient,
  lie: (gradient: Float32Array) => Float32Array,
): Promise<string | null> {
  const model = buildModel(client.config.model);
  const layout = layoutOfModel(model);
  try {
    const check = await client.knownAnswerCheck();
    writeFlatWeights(model, layout, check.weights);
    const { xs, ys } = examplesToTensors(check.examples);
    const { gradient, loss } = await computeGradients(model, layout, xs, ys);
    xs.dispose();
    ys.dispose();
    return await codeOf(client.answerKnownAnswer(check.checkId, lie(gradient), loss));
  } finally {
    model.dispose();
  }
}

describe('the known-answer check at join', () => {
  it('a push before the check is refused NOT_VERIFIED; after it passes, pushes count', async () => {
    const client = await connect();
    expect(client.config.knownAnswer).toBe(true);
    const stepBefore = hub.hub.coordinator.status().globalStep;
    expect(await push(client)).toBe('NOT_VERIFIED');
    expect(hub.hub.coordinator.status().globalStep).toBe(stepBefore);
    const model = buildModel(client.config.model);
    const passed = await passKnownAnswer(client, model, layoutOfModel(model));
    model.dispose();
    // wasm against wasm: the same kernels, the same sums.
    expect(passed.cosine).toBeGreaterThan(0.9999);
    expect(Math.abs(passed.normRatio - 1)).toBeLessThan(1e-3);
    expect(await push(client)).toBeNull();
  });

  it.each<[string, (g: Float32Array) => Float32Array]>([
    ['all zeros (a driver that returns nothing)', (g) => new Float32Array(g.length)],
    ['the sign flipped', (g) => g.map((v) => -v)],
    ['scaled by 1.5 (plausible direction, wrong length)', (g) => g.map((v) => v * 1.5)],
    ['noise of the same norm', (g) => testGradient(g.length, 3).map((v, i) => v * Math.abs(g[i % 97]))],
  ])('an answer with %s is refused KNOWN_ANSWER_FAILED, and pushes stay refused', async (_name, lie) => {
    const client = await connect();
    expect(await answerWith(client, lie)).toBe('KNOWN_ANSWER_FAILED');
    expect(await push(client)).toBe('NOT_VERIFIED');
    // The check can be taken again (a browser's next backend would): the true answer passes.
    expect(await answerWith(client, (g) => g)).toBeNull();
    expect(await push(client)).toBeNull();
  });

  it('an answer to a check never given, or given twice, is refused UNKNOWN_CHECK', async () => {
    const client = await connect();
    const gradient = new Float32Array(client.config.params);
    expect(await codeOf(client.answerKnownAnswer('never-issued', gradient, 1))).toBe('UNKNOWN_CHECK');
    const check = await client.knownAnswerCheck();
    const first = await codeOf(client.answerKnownAnswer(check.checkId, gradient, 1));
    expect(first).toBe('KNOWN_ANSWER_FAILED');
    expect(await codeOf(client.answerKnownAnswer(check.checkId, gradient, 1))).toBe('UNKNOWN_CHECK');
  });

  it('a pass follows the volunteer across reconnects on the same backend, not to another backend', async () => {
    const client = await connect('wasm');
    expect(await answerWith(client, (g) => g)).toBeNull();
    client.close();
    const again = await connect('wasm', client.identity);
    expect(await push(again)).toBeNull();
    const otherBackend = await connect('webgpu', client.identity);
    expect(await push(otherBackend)).toBe('NOT_VERIFIED');
    // A stranger's hello with another identity is not verified by someone else's pass.
    expect(await push(await connect('wasm'))).toBe('NOT_VERIFIED');
  });

  it.each([true, false])(
    'a GradientWorker passes the check by itself and trains (listener: %s)',
    async (listen) => {
      const client = await connect();
      const notVerifiedBefore = hub.hub.coordinator.status().refusals.NOT_VERIFIED;
      const checks: number[] = [];
      const summary = await new GradientWorker({
        client,
        maxSteps: 5,
        onKnownAnswer: listen ? ({ cosine }) => checks.push(cosine) : undefined,
      }).run();
      expect(checks).toHaveLength(listen ? 1 : 0);
      expect(summary).toMatchObject({ steps: 5, refused: 0 });
      expect(hub.hub.coordinator.status().refusals.NOT_VERIFIED).toBe(notVerifiedBefore);
    },
  );
});
