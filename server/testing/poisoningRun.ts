/**
 * One run of poisoning.test.ts: four volunteers, the first of them hostile when an attack is named,
 * over real sockets with real MNIST gradients of the mlp. The test runs these in TestThreads (two at a time),
 * so this module is loaded in each thread and `run` returns only the test accuracy.
 */
import { GradientWorker } from '../../shared/GradientWorker.js';
import { ErrorCode } from '../../shared/errors.js';
import { HubClient, HubRequestError, type PushInput } from '../../shared/HubClient.js';
import type { HubOptions } from '../options.js';
import { startTestHub } from './testHub.js';
import { withSeededMathRandom } from './seededInit.js';
import { initNodeTf } from '../tf/initNodeTf.js';

const WORKERS = 4;
/** The whole test set: the runs are compared to a fraction of a point. */
const EVAL_EXAMPLES = 10_000;
const SEED = 2024;

/**
 * flip: -10x its gradient; noise: large noise; reversed: -1x, a gradient of honest size that no norm
 * screen can tell from an honest one; reversed-reconnecting: the same, and every 20 pushes (or when
 * refused UNTRUSTED) it drops its connection and its identity and comes back as a newcomer.
 */
export type Attack = 'flip' | 'noise' | 'reversed' | 'reversed-reconnecting';

/** Pushes between the reconnecting poisoner's fresh starts. */
export const RECONNECT_EVERY = 20;

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

/**
 * Trains with WORKERS workers (the first hostile when `kind` is set) until the hub has applied
 * updates computed from `examples` examples, and returns the test accuracy. Runs are as long in the
 * work the honest volunteers did, not in pushes: a refused hostile push is no update. Every run
 * starts from the same initial weights (seeded), so runs that differ in the attack or the defence
 * compare to a fraction of a point.
 */
export async function run(
  options: Partial<HubOptions>,
  kind: Attack | null,
  examples: number,
): Promise<number> {
  await initNodeTf('wasm');
  const running = await withSeededMathRandom(SEED, () =>
    startTestHub({
      model: 'mlp',
      shards: 2,
      roundTimeoutMs: 20_000,
      evalExamples: EVAL_EXAMPLES,
      ...options,
    }),
  );
  const clients: HubClient[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) {
      clients.push(
        await HubClient.connect({ url: running.url, backend: 'wasm', ackTimeoutMs: 20_000, reconnect: true }),
      );
    }
    const workers = clients.map(
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
    return (await running.hub.evaluateNow()).accuracy;
  } finally {
    clients.forEach((c) => c.close());
    await running.close();
  }
}
