import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as ioClient } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import {
  DASHBOARD_NAMESPACE,
  type DashboardHistory,
  type DashboardUpdate,
} from '../../shared/dashboardProtocol.js';
import { ErrorCode } from '../../shared/errors.js';
import { GradientWorker } from '../../shared/GradientWorker.js';
import { HubClient } from '../../shared/HubClient.js';
import type { HubStatus } from '../hubStatus.js';
import type { HubOptions } from '../options.js';
import { trainUntilTarget } from '../testing/trainUntilTarget.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { startCoordinatorProcess, type RunningCoordinator } from './coordinatorProcess.js';
import { startGateway } from './gatewayProcess.js';
import { DEFAULT_STATE_EVERY_MS } from './NatsCoordinatorHost.js';
import { startNatsServer } from './natsServer.js';
import { CoordinatorMissingError } from './RemoteCoordinator.js';
import { clusterHubOptions, openedClusterAfterEach, spawnTestShard } from './testing/clusterFixture.js';
import type { ShardCli } from './testing/shardCli.js';

/**
 * Issue 9, criterion 1 on Node workers: a real nats-server, two `--role shard` processes of the CLI,
 * one coordinator (in this process, serving its Coordinator on NATS as `--role coordinator` does),
 * two gateways (`startGateway`, what `--role gateway` runs) and two headless workers, each on a
 * different gateway. Same model, mode, workers and target as cluster.test.ts and training.test.ts.
 */

const TARGET_ACCURACY = 0.9;
const EXAMPLE_BUDGET = 40_000;
const BATCH = 64;
const SHARDS = 2;
const GATEWAYS = 2;
const PREFIX = 'gateways-test';

const opened = openedClusterAfterEach();

async function spawnShard(natsUrl: string, index: number, checkpointDir: string): Promise<ShardCli> {
  return spawnTestShard(opened, { natsUrl, index, shards: SHARDS, checkpointDir, subjectPrefix: PREFIX });
}

const hubOptions = (overrides: Partial<HubOptions> = {}): HubOptions => clusterHubOptions(SHARDS, overrides);

/** A coordinator on the shard processes, serving its Coordinator to gateways: what main.ts runs. */
async function startCoordinator(natsUrl: string): Promise<RunningCoordinator> {
  const coordinator = await startCoordinatorProcess({
    natsUrl,
    subjectPrefix: PREFIX,
    options: hubOptions(),
    listen: { host: '127.0.0.1', port: 0 },
    onLeaseLost: (reason: string) => {
      throw new Error(reason);
    },
    log: () => undefined,
  });
  opened.coordinators.push(coordinator);
  return coordinator;
}

async function statusAt(url: string): Promise<HubStatus> {
  const response = await fetch(`${url}/api/status`);
  expect(response.status).toBe(200);
  return (await response.json()) as HubStatus;
}

describe('gateways on a coordinator over NATS', () => {
  it('a gateway without a coordinator refuses to start, naming what to start', async () => {
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const starting = startGateway({ natsUrl: nats.url, subjectPrefix: PREFIX, host: '127.0.0.1', port: 0 });
    await expect(starting).rejects.toBeInstanceOf(CoordinatorMissingError);
    await expect(starting).rejects.toThrow(
      /no coordinator answers on NATS subject "gateways-test\.coord\.call\.setup": start one \(--role coordinator\)/,
    );
  });

  it(`two workers on two gateways train cnn to test accuracy >= ${TARGET_ACCURACY}; the gateways' /api/status agree`, async () => {
    await initNodeTf('wasm');
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const dir = await mkdtemp(join(tmpdir(), 'gateways-'));
    opened.dirs.push(dir);
    await Promise.all(Array.from({ length: SHARDS }, (_, i) => spawnShard(nats.url, i, dir)));
    const coordinatorProcess = await startCoordinator(nats.url);
    const coordinator = coordinatorProcess.running;
    const gatewayLog: string[] = [];
    for (let i = 0; i < GATEWAYS; i++) {
      opened.gateways.push(
        await startGateway({
          natsUrl: nats.url,
          subjectPrefix: PREFIX,
          host: '127.0.0.1',
          port: 0,
          log: (line) => gatewayLog.push(line),
        }),
      );
    }
    // One worker per gateway.
    for (const gateway of opened.gateways) {
      opened.clients.push(
        await HubClient.connect({ url: gateway.url, backend: 'wasm', ackTimeoutMs: 20_000 }),
      );
    }
    const refusedCodes: string[] = [];
    const workers = opened.clients.map(
      (client) =>
        new GradientWorker({
          client,
          batchSize: BATCH,
          maxSteps: Math.floor(EXAMPLE_BUDGET / BATCH / GATEWAYS),
          onRefused: (error) => refusedCodes.push(error.code),
        }),
    );
    const { best, reached, summaries, seconds } = await trainUntilTarget(
      coordinator.hub,
      workers,
      TARGET_ACCURACY,
    );
    const [atCoordinator, ...atGateways] = await Promise.all([
      statusAt(coordinator.url),
      ...opened.gateways.map((g) => statusAt(g.url)),
    ]);
    console.log(
      `gateways: test accuracy ${best.accuracy.toFixed(4)} after ${best.examplesSeen} examples in ` +
        `${seconds.toFixed(1)} s; global step ${atCoordinator.globalStep}; per worker ` +
        `${JSON.stringify(atCoordinator.workers.map((w) => [w.id, w.steps]))}; workers' refusals ` +
        `${JSON.stringify(refusedCodes)}; ${summaries.reduce((n, s) => n + s.steps, 0)} gradients accepted`,
    );
    // Held for two evaluations in a row (trainUntilTarget's default), within the budget.
    expect(reached).toBe(true);
    expect(best.examplesSeen).toBeLessThanOrEqual(EXAMPLE_BUDGET);
    expect(best.accuracy).toBeGreaterThanOrEqual(TARGET_ACCURACY);

    // One run: the coordinator counted both workers' gradients, each through its own gateway.
    expect(atCoordinator.workers).toHaveLength(GATEWAYS);
    for (const worker of atCoordinator.workers) expect(worker.steps).toBeGreaterThan(0);
    expect(atCoordinator.globalStep).toBe(atCoordinator.pushesAccepted);
    expect(refusedCodes.filter((code) => code !== ErrorCode.TooStale)).toEqual([]);
    // Every gateway's /api/status agrees with the coordinator on the global step and the shards.
    for (const status of atGateways) {
      expect(status.globalStep).toBe(atCoordinator.globalStep);
      expect(status.shards.map((s) => s.checksum)).toEqual(atCoordinator.shards.map((s) => s.checksum));
      expect(status.shards.map((s) => s.version)).toEqual(atCoordinator.shards.map((s) => s.version));
    }
    // The leaderboard is the coordinator's too: both workers' volunteers, credited every example.
    const boards = await Promise.all(
      [coordinator.url, ...opened.gateways.map((g) => g.url)].map(async (url) => {
        const response = await fetch(`${url}/api/volunteers`);
        expect(response.status).toBe(200);
        return (await response.json()) as { volunteer: string; examples: number }[];
      }),
    );
    for (const board of boards) expect(board).toEqual(boards[0]);
    expect(boards[0].map((v) => v.volunteer).sort()).toEqual(
      atCoordinator.workers.map((w) => w.volunteer).sort(),
    );
    expect(boards[0].reduce((sum, v) => sum + v.examples, 0)).toBe(atCoordinator.examplesSeen);
    // Every accepted push reached both shards (no shard restarted here).
    for (const shard of atCoordinator.shards) expect(shard.version).toBe(atCoordinator.globalStep);
    expect(gatewayLog.join('\n')).not.toMatch(/not answering|did not answer/);

    // The operator's pause at the coordinator reaches every gateway's workers with its next broadcast.
    coordinator.hub.coordinator.setPaused(true);
    await new Promise((resolve) => setTimeout(resolve, 2 * DEFAULT_STATE_EVERY_MS));
    await expect(opened.clients[0].pull()).rejects.toMatchObject({ code: ErrorCode.Paused });
    coordinator.hub.coordinator.setPaused(false);
    await new Promise((resolve) => setTimeout(resolve, 2 * DEFAULT_STATE_EVERY_MS));
    const pulled = await opened.clients[1].pull();
    expect(pulled.versions).toEqual(atCoordinator.shards.map((s) => s.version));
    expect(pulled.globalStep).toBe(atCoordinator.globalStep);
    // A gateway's model download is the shards' weights, as the coordinator's is.
    const [fromGateway, fromCoordinator] = await Promise.all(
      [opened.gateways[1].url, coordinator.url].map(async (url) => {
        const response = await fetch(`${url}/api/model/weights.bin`);
        expect(response.status).toBe(200);
        return Buffer.from(await response.arrayBuffer());
      }),
    );
    expect(fromGateway.equals(fromCoordinator)).toBe(true);

    // A gateway's dashboard is the coordinator's: its history, then its live updates; read-only.
    const viewer = ioClient(`${opened.gateways[0].url}${DASHBOARD_NAMESPACE}`, {
      transports: ['websocket'],
      reconnection: false,
    });
    try {
      const role = new Promise((resolve) => viewer.once('dashboard:role', resolve));
      const history = new Promise<DashboardHistory>((resolve) => viewer.once('dashboard:history', resolve));
      const update = new Promise<DashboardUpdate>((resolve) => viewer.once('dashboard:update', resolve));
      expect(await role).toEqual({ admin: false });
      const relayed = await history;
      const own = coordinator.hub.dashboard.wholeHistory();
      expect(relayed.run).toEqual(own.run);
      expect(relayed.points.length).toBeGreaterThan(0);
      expect(relayed.points.at(-1)!.globalStep).toBeLessThanOrEqual(atCoordinator.globalStep);
      expect(Buffer.from(relayed.samples.pixels).equals(Buffer.from(own.samples.pixels))).toBe(true);
      expect((await update).point.globalStep).toBe(atCoordinator.globalStep);
      expect(await viewer.timeout(5_000).emitWithAck('admin:action', { type: 'pause' })).toMatchObject({
        ok: false,
        error: { code: ErrorCode.AdminRequired },
      });
    } finally {
      viewer.disconnect();
    }

    // A coordinator that stops answering is a retryable refusal for a gateway's workers, logged once.
    await coordinatorProcess.close();
    await expect(opened.clients[0].leaseUnit()).rejects.toMatchObject({ code: ErrorCode.ShardUnavailable });
    expect(gatewayLog.join('\n')).toMatch(/gateway: the coordinator did not answer "leaseUnit"/);
  }, 300_000);
});
