import { describe, expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import type { HubClient } from '../../shared/HubClient.js';
import { examplesToTensors } from '../../shared/examplesTensors.js';
import { layoutOfModel } from '../../shared/layout.js';
import { buildModel } from '../../shared/models.js';
import { LocalTrainer } from '../../shared/LocalTrainer.js';
import type { TrainingMode } from '../../shared/protocol.js';
import { computeGradients, readFlatWeights, writeFlatWeights } from '../../shared/training.js';
import { weightChange } from '../../shared/weightChange.js';
import type { HubOptions } from '../options.js';
import { closedAfterEach } from '../testing/closedAfterEach.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';
import { initNodeTf } from '../tf/initNodeTf.js';

/**
 * `--spot-check`: the hub recomputes accepted pushes from the weights and examples they name, over
 * real sockets with real TF.js on both sides. Honest workers' pushes are verified; pushes that pass
 * every screen but are not what they claim fail, cost trust, and end in UNTRUSTED.
 */
const opened = closedAfterEach();
const BATCH = 64;

async function start(mode: TrainingMode, overrides: Partial<HubOptions> = {}): Promise<void> {
  await initNodeTf('wasm');
  opened.hub = await startTestHub({
    mode,
    model: 'cnn',
    spotCheck: 1,
    trust: true,
    localSteps: 5,
    ...overrides,
  });
}

async function connect(): Promise<HubClient> {
  const client = await connectClient(opened.hub!, 'wasm');
  opened.clients.push(client);
  return client;
}

function checksOf(client: HubClient) {
  return opened.hub!.hub.coordinator.status().workers.find((w) => w.id === client.workerId)!.checks;
}

/** Waits until `done` holds (verdicts come from the evaluation thread a little after each push). */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 100));
  expect(done(), what).toBe(true);
}

/**
 * A worker that computes real gradients (or local changes) with TF.js on its leased unit, then lies in
 * one way `forge` chooses, listing the batch it claims; the gradient's norm is an honest one's. It
 * pushes until it is refused UNTRUSTED (the end of the story: every later push is refused the same
 * way), at most `pushes` times, and returns each push's refusal code (null: accepted).
 */
async function liar(
  client: HubClient,
  pushes: number,
  forge: (honest: Float32Array, other: Float32Array) => Float32Array,
): Promise<(string | null)[]> {
  const model = buildModel(client.config.model);
  const layout = layoutOfModel(model);
  const unit = await client.leaseUnit();
  const data = await client.fetchExamples(unit);
  const codes: (string | null)[] = [];
  const local = client.config.mode === 'local';
  try {
    for (let i = 0; i < pushes; i++) {
      const pulled = await client.pull();
      const claimed = (2 * i * BATCH) % (unit.count - 2 * BATCH);
      const updateOn = async (offset: number) => {
        writeFlatWeights(model, layout, pulled.weights);
        const { xs, ys } = examplesToTensors(data, offset, BATCH);
        try {
          if (!local) return (await computeGradients(model, layout, xs, ys)).gradient;
          const trainer = new LocalTrainer(model, client.config.optimizer, client.config.learningRate);
          await trainer.step(xs, ys);
          trainer.dispose();
          return weightChange(pulled.weights, await readFlatWeights(model, layout));
        } finally {
          xs.dispose();
          ys.dispose();
        }
      };
      const gradient = forge(await updateOn(claimed), await updateOn(claimed + BATCH));
      codes.push(
        await client
          .push({
            gradient,
            versions: pulled.versions,
            round: pulled.round,
            localSteps: local ? 1 : undefined,
            examples: BATCH,
            loss: 1,
            unitId: unit.unitId,
            batches: [[unit.unitId, claimed, BATCH]],
          })
          .then(
            () => null,
            (error: { code: string }) => error.code,
          ),
      );
      if (codes.at(-1) === 'UNTRUSTED') break;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    model.dispose();
  }
  return codes;
}

describe('spot checks (--spot-check 1, --trust)', () => {
  it.each<TrainingMode>(['async', 'sync', 'local'])(
    '%s mode: an honest worker is verified, never failed, and keeps its trust rising',
    async (mode) => {
      await start(mode);
      const client = await connect();
      await new GradientWorker({ client, maxSteps: mode === 'local' ? 6 : 20 }).run();
      // Local mode replays only changes without overlapped steps (GradientWorker's replayable): here
      // the first, and any whose exchange was quick enough to leave none.
      await until(() => checksOf(client).verified >= (mode === 'local' ? 1 : 10), 'verdicts arrive');
      expect(checksOf(client).failed).toBe(0);
      const trust = opened.hub!.hub.coordinator.status().workers[0].trust!;
      expect(trust).toBeGreaterThan(0.5);
    },
  );

  it.each<[string, TrainingMode, (honest: Float32Array, other: Float32Array) => Float32Array]>([
    ['a real gradient of other examples than it lists', 'async', (_honest, other) => other],
    ['a real gradient 1.3 times as long', 'async', (honest) => honest.map((v) => v * 1.3)],
    ['a real gradient with its sign flipped', 'async', (honest) => honest.map((v) => -v)],
    ['a weight change with its sign flipped', 'local', (honest) => honest.map((v) => -v)],
    [
      'a weight change of noise at an honest norm',
      'local',
      (honest) =>
        testGradient(honest.length, 9).map((v, i) => v * Math.abs(honest[(i * 31) % honest.length])),
    ],
  ])('%s (%s mode) fails its check, costs trust, and ends in UNTRUSTED', async (_name, mode, forge) => {
    await start(mode);
    const honest = await connect();
    // An honest volunteer alongside, so that rounds close and norms have a baseline.
    const running = new GradientWorker({ client: honest, maxSteps: 1_000 });
    const done = running.run();
    const client = await connect();
    const codes = await liar(client, 6, forge);
    running.stop();
    await done;
    await until(() => checksOf(client).failed >= 1, 'a failed verdict arrives');
    expect(codes).toContain('UNTRUSTED');
    expect(checksOf(honest).failed).toBe(0);
  });
});
