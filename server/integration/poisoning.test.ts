import { expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import type { HubClient, PushInput } from '../../shared/HubClient.js';
import type { HubOptions } from '../options.js';
import { connectClient, startTestHub } from '../testing/testHub.js';
import { withSeededMathRandom } from '../testing/seededInit.js';
import { closedAfterEach } from '../testing/closedAfterEach.js';
import { initNodeTf } from '../tf/initNodeTf.js';

/**
 * Four volunteers, one of them hostile, over real sockets with real MNIST gradients. The defence is
 * measured: the same run with plain averaging is shown to fail.
 */
const WORKERS = 4;
/** Examples behind the updates of one run: 400 batches of 64. */
const EXAMPLES = 25_600;
/** The whole test set: the runs are compared to a fraction of a point. */
const EVAL_EXAMPLES = 10_000;
const SEED = 2024;

type Attack = 'flip' | 'noise';

/** What a hostile tab sends instead of its gradient. */
function attack(kind: Attack): (g: Float32Array) => Float32Array {
  if (kind === 'flip') return (g) => g.map((v) => -10 * v);
  let state = 12345;
  return (g) =>
    g.map(() => {
      state = (state * 1103515245 + 12345) >>> 0;
      return ((state / 2 ** 32) * 2 - 1) * 100;
    });
}

/** A real client whose pushes carry `poison(gradient)`. */
function hostile(client: HubClient, poison: (g: Float32Array) => Float32Array): HubClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'push')
        return (input: PushInput) => target.push({ ...input, gradient: poison(input.gradient) });
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const opened = closedAfterEach();

/**
 * Trains with WORKERS workers (the first hostile when `kind` is set) until the hub has applied
 * updates computed from `examples` examples, and returns the test accuracy. Runs are as long in the
 * work the honest volunteers did, not in pushes: a refused hostile push is no update. Every run
 * starts from the same initial weights (seeded), so runs that differ in the attack or the defence
 * compare to a fraction of a point.
 */
async function run(options: Partial<HubOptions>, kind: Attack | null, examples: number): Promise<number> {
  await initNodeTf('wasm');
  const running = await withSeededMathRandom(SEED, () =>
    startTestHub({
      model: 'cnn',
      shards: 2,
      roundTimeoutMs: 20_000,
      evalExamples: EVAL_EXAMPLES,
      ...options,
    }),
  );
  opened.hub = running;
  for (let i = 0; i < WORKERS; i++) opened.clients.push(await connectClient(running, 'wasm'));
  const workers = opened.clients.map(
    (client, i) =>
      new GradientWorker({
        client: i === 0 && kind ? hostile(client, attack(kind)) : client,
        // The hostile worker's refused pushes end its run early; the honest ones go on.
        onRefused: () => undefined,
        onStep: () => {
          if (running.hub.coordinator.status().examplesSeen >= examples) workers.forEach((w) => w.stop());
        },
      }),
  );
  await Promise.all(
    workers.map((w, i) => w.run().catch((error) => (i === 0 && kind ? undefined : Promise.reject(error)))),
  );
  const { accuracy } = await running.hub.evaluateNow();
  await opened.close();
  return accuracy;
}

/** The defended runs reach within this of the clean run (the target: 1 point). */
const DEFENDED_WITHIN = 0.01;
/** Honest cnn gradients here have norms of 0.6-2.7: a bar at a few times that. */
const CLIP_NORM = 5;

it('sync: median + trust hold off a worker pushing -10x its gradient; plain averaging collapses', async () => {
  const clean = await run({ mode: 'sync', aggregate: 'mean' }, null, EXAMPLES);
  const plain = await run({ mode: 'sync', aggregate: 'mean' }, 'flip', EXAMPLES);
  const medianOnly = await run({ mode: 'sync', aggregate: 'median' }, 'flip', EXAMPLES);
  const defended = await run(
    { mode: 'sync', aggregate: 'median', trust: true, clipNorm: CLIP_NORM },
    'flip',
    EXAMPLES,
  );
  console.log(
    `  sync, -10x: clean ${clean.toFixed(4)}, mean ${plain.toFixed(4)}, median alone ${medianOnly.toFixed(4)}, ` +
      `median + trust ${defended.toFixed(4)}`,
  );
  expect(clean).toBeGreaterThan(0.88);
  expect(plain).toBeLessThan(0.3);
  // The median alone keeps the run on course (its examples include the hostile worker's, so it
  // trails); with the trust score the hostile gradients are refused outright.
  expect(medianOnly).toBeGreaterThanOrEqual(clean - 0.04);
  expect(defended).toBeGreaterThanOrEqual(clean - DEFENDED_WITHIN);
}, 300_000);

it('async: norm clipping and trust hold off a worker pushing large noise; no defence collapses', async () => {
  const clean = await run({ mode: 'async' }, null, EXAMPLES);
  const plain = await run({ mode: 'async' }, 'noise', EXAMPLES);
  const defended = await run({ mode: 'async', trust: true, clipNorm: CLIP_NORM }, 'noise', EXAMPLES);
  console.log(
    `  async, noise: clean ${clean.toFixed(4)}, undefended ${plain.toFixed(4)}, defended ${defended.toFixed(4)}`,
  );
  expect(clean).toBeGreaterThan(0.88);
  expect(plain).toBeLessThan(0.3);
  expect(defended).toBeGreaterThanOrEqual(clean - DEFENDED_WITHIN);
}, 300_000);
