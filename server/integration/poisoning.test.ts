import { expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import { ErrorCode } from '../../shared/errors.js';
import { HubClient, HubRequestError, type PushInput } from '../../shared/HubClient.js';
import type { HubOptions } from '../options.js';
import { startTestHub } from '../testing/testHub.js';
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

/**
 * flip: -10x its gradient; noise: large noise; reversed: -1x, a gradient of honest size that no norm
 * screen can tell from an honest one; reversed-reconnecting: the same, and every 20 pushes (or when
 * refused UNTRUSTED) it drops its connection and its identity and comes back as a newcomer.
 */
type Attack = 'flip' | 'noise' | 'reversed' | 'reversed-reconnecting';

/** Pushes between the reconnecting poisoner's fresh starts. */
const RECONNECT_EVERY = 20;

/** What a hostile tab sends instead of its gradient. */
function attack(kind: Attack): (g: Float32Array) => Float32Array {
  if (kind === 'flip') return (g) => g.map((v) => -10 * v);
  if (kind === 'reversed' || kind === 'reversed-reconnecting') return (g) => g.map((v) => -v);
  let state = 12345;
  return (g) =>
    g.map(() => {
      state = (state * 1103515245 + 12345) >>> 0;
      return ((state / 2 ** 32) * 2 - 1) * 100;
    });
}

/**
 * Drops the client's connection and the identity the hub gave it: it reconnects (the client was
 * made with `reconnect`) and says hello as a newcomer. HubClient keeps its identity on purpose;
 * only a hostile volunteer would throw it away, so this reaches into its session.
 */
function comeBackAsNewcomer(client: HubClient): void {
  const inside = client as unknown as {
    session: { identity?: string };
    socket: { io: { engine: { close(): void } } };
  };
  inside.session = { ...inside.session, identity: undefined };
  inside.socket.io.engine.close();
}

/** A real client whose pushes carry `poison(gradient)`; `reconnecting`: see Attack. */
function hostile(
  client: HubClient,
  poison: (g: Float32Array) => Float32Array,
  reconnecting: boolean,
): HubClient {
  let pushes = 0;
  const push = async (target: HubClient, input: PushInput) => {
    if (reconnecting && ++pushes % RECONNECT_EVERY === 0) comeBackAsNewcomer(target);
    try {
      return await target.push({ ...input, gradient: poison(input.gradient) });
    } catch (error) {
      if (!reconnecting || (error as HubRequestError).code !== ErrorCode.Untrusted) throw error;
      // Refused for good on this identity: come back as someone else, and go on (OUTLIER is retried).
      comeBackAsNewcomer(target);
      throw new HubRequestError(ErrorCode.Outlier, 'refused; reconnecting as a newcomer');
    }
  };
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'push') return (input: PushInput) => push(target, input);
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
  for (let i = 0; i < WORKERS; i++) {
    const client = await HubClient.connect({
      url: running.url,
      backend: 'wasm',
      ackTimeoutMs: 20_000,
      reconnect: true,
    });
    opened.clients.push(client);
  }
  const workers = opened.clients.map(
    (client, i) =>
      new GradientWorker({
        client: i === 0 && kind ? hostile(client, attack(kind), kind === 'reversed-reconnecting') : client,
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

/** The clean async run, measured once for the two async tests. */
let cleanAsync: Promise<number> | null = null;
const cleanAsyncRun = () => (cleanAsync ??= run({ mode: 'async' }, null, EXAMPLES));

it('async: norm clipping and trust hold off a worker pushing large noise; no defence collapses', async () => {
  const clean = await cleanAsyncRun();
  const plain = await run({ mode: 'async' }, 'noise', EXAMPLES);
  const defended = await run({ mode: 'async', trust: true, clipNorm: CLIP_NORM }, 'noise', EXAMPLES);
  console.log(
    `  async, noise: clean ${clean.toFixed(4)}, undefended ${plain.toFixed(4)}, defended ${defended.toFixed(4)}`,
  );
  expect(clean).toBeGreaterThan(0.88);
  expect(plain).toBeLessThan(0.3);
  expect(defended).toBeGreaterThanOrEqual(clean - DEFENDED_WITHIN);
}, 300_000);

it('async: spot checks and trust hold off a worker pushing its gradient reversed at an honest norm, reconnecting or not', async () => {
  const clean = await cleanAsyncRun();
  const plain = await run({ mode: 'async' }, 'reversed', EXAMPLES);
  const defences = { trust: true, clipNorm: CLIP_NORM, spotCheck: 0.1 };
  const defended = await run({ mode: 'async', ...defences }, 'reversed', EXAMPLES);
  const reconnecting = await run({ mode: 'async', ...defences }, 'reversed-reconnecting', EXAMPLES);
  console.log(
    `  async, -1x: clean ${clean.toFixed(4)}, undefended ${plain.toFixed(4)}, ` +
      `trust + spot checks ${defended.toFixed(4)}, reconnecting every ${RECONNECT_EVERY} pushes ${reconnecting.toFixed(4)}`,
  );
  expect(clean).toBeGreaterThan(0.88);
  // The attack costs an undefended run points (measured 0.907 against 0.948; the norm screen and
  // trust alone, without spot checks, did no better: 0.902).
  expect(plain).toBeLessThan(clean - 0.02);
  expect(defended).toBeGreaterThanOrEqual(clean - DEFENDED_WITHIN);
  // Each fresh start lets a push or two in at the address floor's weight before its first check
  // lands (measured 0.9396 against 0.9482 clean): a little more room than the others.
  expect(reconnecting).toBeGreaterThanOrEqual(clean - 1.5 * DEFENDED_WITHIN);
}, 600_000);
