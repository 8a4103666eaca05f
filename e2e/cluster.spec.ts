import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { ErrorCode } from '../shared/errors.js';
import { startGateway } from '../server/cluster/gatewayProcess.js';
import { NatsCoordinatorHost } from '../server/cluster/NatsCoordinatorHost.js';
import { NatsShardRef } from '../server/cluster/NatsShardRef.js';
import { startNatsServer } from '../server/cluster/natsServer.js';
import { connectRemoteShards } from '../server/cluster/remoteShards.js';
import {
  closeOpenedCluster,
  newOpenedCluster,
  spawnOpenedShard,
} from '../server/cluster/testing/openedCluster.js';
import type { ShardCli } from '../server/cluster/testing/shardCli.js';
import { DEFAULT_HUB_OPTIONS } from '../server/options.js';
import { startHub } from '../server/startHub.js';
import { TEST_LISTEN } from '../server/testing/testHub.js';
import { describeTab, expect, hubStatus, test, trainUntilAccuracy } from './fixtures.js';

// Issue 9: the coordinator on shard processes over NATS, with real tabs; a shard process is SIGKILLed
// mid-run and started again, and neither the hub nor the tabs restart. The target is training.spec's.

const SHARDS = 2;
const PREFIX = 'e2e-cluster';
const KILLED_SHARD = 1;

const opened = newOpenedCluster();
test.afterEach(() => closeOpenedCluster(opened));

/**
 * nats-server, the shard processes of the CLI (with `shardArgs`) and a coordinator hub on them, in this
 * process, all closed after the test. `spawnShard` starts a shard (again).
 */
async function startCoordinatorOnShards(prefix: string, shardArgs: readonly string[]) {
  const nats = await startNatsServer();
  opened.nats.push(nats);
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  opened.dirs.push(dir);
  const spawnShard = (index: number): Promise<ShardCli> =>
    spawnOpenedShard(opened, {
      natsUrl: nats.url,
      index,
      shards: SHARDS,
      checkpointDir: dir,
      subjectPrefix: prefix,
      args: ['--model', 'cnn', ...shardArgs],
    });
  const shards = await Promise.all(Array.from({ length: SHARDS }, (_, i) => spawnShard(i)));
  const remote = await connectRemoteShards({ natsUrl: nats.url, shards: SHARDS, subjectPrefix: prefix });
  opened.remote.push(remote);
  const hub = await startHub(
    { ...DEFAULT_HUB_OPTIONS, mode: 'async', model: 'cnn', shards: SHARDS, evalIntervalMs: 60_000 },
    TEST_LISTEN,
    undefined,
    { shards: remote.refs },
  );
  opened.hubs.push(hub);
  return { nats, shards, spawnShard, remote, hub };
}

test('two tabs on a coordinator with two shard processes train cnn to 0.95 through a shard SIGKILL', async ({
  openWorker,
}) => {
  const { nats, shards, spawnShard, hub } = await startCoordinatorOnShards(PREFIX, [
    '--checkpoint-secs',
    '1',
  ]);

  const tabs = [
    await openWorker(hub.url, { backend: 'wasm' }),
    await openWorker(hub.url, { backend: 'wasm' }),
  ];
  await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 60_000 }).toBe(2);
  const workerIds = (await Promise.all(tabs.map((tab) => tab.status()))).map((view) => view.workerId);

  // Kill a shard once training is under way (far from the target), and start it again.
  await expect
    .poll(() => hub.hub.coordinator.status().examplesSeen, { timeout: 120_000 })
    .toBeGreaterThanOrEqual(6_000);
  const victim = shards[KILLED_SHARD].child;
  victim.kill('SIGKILL');
  await once(victim, 'exit');
  await expect.poll(async () => (await fetch(`${hub.url}/api/status`)).status, { timeout: 10_000 }).toBe(503);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const stepWhileDown = hub.hub.coordinator.status().globalStep;
  const restarted = await spawnShard(KILLED_SHARD);
  expect(restarted.output()).toMatch(
    new RegExp(`shard ${KILLED_SHARD}: resumed from .*shard-${KILLED_SHARD}/`),
  );
  console.log(`  shard ${KILLED_SHARD} killed and restarted at global step ${stepWhileDown}`);

  const run = await trainUntilAccuracy(hub, { target: 0.95, maxExamples: 60_000, everyExamples: 4_000 });
  console.log(
    `  reached ${run.reached.accuracy.toFixed(4)} after ${run.reached.examplesSeen} examples in ${run.seconds.toFixed(0)} s`,
  );
  expect(run.reached.accuracy).toBeGreaterThanOrEqual(0.95);
  expect(run.reached.examplesSeen).toBeLessThanOrEqual(60_000);
  expect(run.reached.globalStep).toBeGreaterThan(stepWhileDown);

  // The same tabs, never reloaded nor re-registered, trained through it.
  const views = await Promise.all(tabs.map((tab) => tab.status()));
  for (const view of views) console.log(`  ${describeTab(view)}`);
  expect(views.map((view) => view.workerId)).toEqual(workerIds);
  expect(views.every((view) => view.phase === 'training')).toBe(true);

  const status = await hubStatus(hub);
  expect(status.refusals[ErrorCode.ShardUnavailable]).toBeGreaterThan(0);
  // The hub's /api/status reports of each shard what the shard itself says.
  const connection = await connect({ servers: nats.url });
  try {
    await Promise.all(tabs.map((tab) => tab.close()));
    // A push the hub had received before the tabs closed finishes on every shard first.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const settled = await hubStatus(hub);
    const direct = await Promise.all(
      Array.from({ length: SHARDS }, (_, index) =>
        new NatsShardRef({ connection, index, subjectPrefix: PREFIX }).ask({ type: 'status' }),
      ),
    );
    expect(settled.shards).toEqual(direct);
  } finally {
    await connection.close();
  }
});

test('two tabs, each on its own gateway of one coordinator, train cnn to 0.95; the gateways agree', async ({
  openWorker,
}) => {
  const prefix = `${PREFIX}-gateways`;
  const { nats, remote, hub } = await startCoordinatorOnShards(prefix, []);
  // As `--role coordinator` does: its Coordinator on NATS for the gateways.
  const host = new NatsCoordinatorHost({
    connection: remote.connection,
    coordinator: hub.hub.coordinator,
    status: () => hub.hub.status(),
    setup: { config: hub.hub.config, options: hub.hub.options },
    subjectPrefix: prefix,
  });
  opened.hosts.push(host);
  await host.ready();
  for (let i = 0; i < 2; i++) {
    opened.gateways.push(
      await startGateway({ natsUrl: nats.url, subjectPrefix: prefix, host: '127.0.0.1', port: 0 }),
    );
  }

  const tabs = await Promise.all(
    opened.gateways.map((gateway) => openWorker(gateway.url, { backend: 'wasm' })),
  );
  await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 60_000 }).toBe(2);
  const run = await trainUntilAccuracy(hub, { target: 0.95, maxExamples: 60_000, everyExamples: 4_000 });
  console.log(
    `  reached ${run.reached.accuracy.toFixed(4)} after ${run.reached.examplesSeen} examples in ${run.seconds.toFixed(0)} s`,
  );
  expect(run.reached.accuracy).toBeGreaterThanOrEqual(0.95);
  expect(run.reached.examplesSeen).toBeLessThanOrEqual(60_000);
  const views = await Promise.all(tabs.map((tab) => tab.status()));
  for (const view of views) console.log(`  ${describeTab(view)}`);
  expect(views.every((view) => view.steps > 0)).toBe(true);

  await Promise.all(tabs.map((tab) => tab.close()));
  // A push the coordinator had received before the tabs closed finishes on every shard first.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const [atCoordinator, ...atGateways] = await Promise.all(
    [hub.url, ...opened.gateways.map((g) => g.url)].map(
      async (url) =>
        (await (await fetch(`${url}/api/status`)).json()) as Awaited<ReturnType<typeof hubStatus>>,
    ),
  );
  for (const status of atGateways) {
    expect(status.globalStep).toBe(atCoordinator.globalStep);
    expect(status.shards.map((s) => s.checksum)).toEqual(atCoordinator.shards.map((s) => s.checksum));
  }
});
