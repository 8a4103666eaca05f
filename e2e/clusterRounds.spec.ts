import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { TrainingMode } from '../shared/protocol.js';
import { startCoordinatorProcess } from '../server/cluster/coordinatorProcess.js';
import { startGateway } from '../server/cluster/gatewayProcess.js';
import { NatsShardRef } from '../server/cluster/NatsShardRef.js';
import { startNatsServer } from '../server/cluster/natsServer.js';
import {
  closeOpenedCluster,
  newOpenedCluster,
  spawnOpenedShard,
} from '../server/cluster/testing/openedCluster.js';
import { DEFAULT_HUB_OPTIONS } from '../server/options.js';
import { describeTab, expect, hubStatus, test, trainUntilAccuracy } from './fixtures.js';

// Issue 15, acceptance 2: rounds across machines. Two tabs, each on its own gateway, train cnn in
// sync mode (to 0.92) and in local mode (to 0.97), each held for two evaluations in a row, on two
// shard processes; shard 1 is SIGKILLed mid-run and started again from its checkpoint. The
// coordinator is what `--role coordinator` runs (startCoordinatorProcess: lease and state in
// JetStream), in this process.

const SHARDS = 2;
const KILLED_SHARD = 1;

const opened = newOpenedCluster();
test.afterEach(() => closeOpenedCluster(opened));

const RUNS: {
  mode: TrainingMode;
  target: number;
  maxExamples: number;
  everyExamples: number;
  holdFor: number;
}[] = [
  { mode: 'sync', target: 0.92, maxExamples: 60_000, everyExamples: 4_000, holdFor: 2 },
  { mode: 'local', target: 0.97, maxExamples: 200_000, everyExamples: 6_400, holdFor: 2 },
];

for (const { mode, target, maxExamples, everyExamples, holdFor } of RUNS) {
  test(`${mode}: two tabs on two gateways train cnn to ${target} through a shard process SIGKILL`, async ({
    openWorker,
  }) => {
    const prefix = `e2e-rounds-${mode}`;
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const dir = await mkdtemp(join(tmpdir(), `e2e-rounds-${mode}-`));
    opened.dirs.push(dir);
    const spawnShard = (index: number) =>
      spawnOpenedShard(opened, {
        natsUrl: nats.url,
        index,
        shards: SHARDS,
        checkpointDir: dir,
        subjectPrefix: prefix,
        args: ['--model', 'cnn', '--checkpoint-secs', '1'],
      });
    const shards = await Promise.all(Array.from({ length: SHARDS }, (_, i) => spawnShard(i)));
    const coordinator = await startCoordinatorProcess({
      natsUrl: nats.url,
      subjectPrefix: prefix,
      options: {
        ...DEFAULT_HUB_OPTIONS,
        mode,
        model: 'cnn',
        shards: SHARDS,
        evalIntervalMs: 60_000,
        evalExamples: 10_000,
        roundTimeoutMs: 3_000,
      },
      listen: { host: '127.0.0.1', port: 0 },
      checkpoints: { dir, intervalMs: 60_000, keep: 2, fresh: true },
      onLeaseLost: (reason) => console.log(`  lease lost: ${reason}`),
      log: () => undefined,
    });
    opened.coordinators.push(coordinator);
    const hub = coordinator.running;
    for (let i = 0; i < 2; i++) {
      opened.gateways.push(
        await startGateway({ natsUrl: nats.url, subjectPrefix: prefix, host: '127.0.0.1', port: 0 }),
      );
    }
    const tabs = await Promise.all(opened.gateways.map((g) => openWorker(g.url, { backend: 'wasm' })));
    await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 60_000 }).toBe(2);

    // Kill a shard once training is under way, and start it again two seconds later.
    await expect
      .poll(() => hub.hub.coordinator.status().examplesSeen, { timeout: 120_000 })
      .toBeGreaterThanOrEqual(everyExamples / 2);
    const victim = shards[KILLED_SHARD].child;
    victim.kill('SIGKILL');
    await once(victim, 'exit');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const stepWhileDown = hub.hub.coordinator.status().globalStep;
    await spawnShard(KILLED_SHARD);
    console.log(`  shard ${KILLED_SHARD} killed and restarted at round ${stepWhileDown}`);

    const run = await trainUntilAccuracy(hub, { target, maxExamples, everyExamples, holdFor });
    console.log(
      `  ${mode}: held ${run.reached.accuracy.toFixed(4)} after ${run.reached.examplesSeen} examples ` +
        `(${run.reached.globalStep} rounds) in ${run.seconds.toFixed(0)} s`,
    );
    expect(run.evaluations.slice(-holdFor).every((e) => e.accuracy >= target)).toBe(true);
    expect(run.reached.examplesSeen).toBeLessThanOrEqual(maxExamples);
    expect(run.reached.globalStep).toBeGreaterThan(stepWhileDown);
    const views = await Promise.all(tabs.map((tab) => tab.status()));
    for (const view of views) {
      console.log(`  ${describeTab(view)}`);
      expect(view.run?.mode).toBe(mode);
      expect(view.steps).toBeGreaterThan(0);
    }

    // Every round applied everywhere or nowhere: what the coordinator reports of each shard is what
    // the shard itself says, once the tabs are gone and the last round has closed.
    await Promise.all(tabs.map((tab) => tab.close()));
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const connection = await connect({ servers: nats.url });
    opened.connections.push(connection);
    const direct = await Promise.all(
      Array.from({ length: SHARDS }, (_, index) =>
        new NatsShardRef({ connection, index, subjectPrefix: prefix }).ask({ type: 'status' }),
      ),
    );
    expect((await hubStatus(hub)).shards).toEqual(direct);
  });
}
