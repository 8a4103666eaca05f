import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { GradientWorker } from '../../shared/GradientWorker.js';
import { CheckpointStore } from '../checkpoints/CheckpointStore.js';
import { CheckpointMismatchError, encodeRunCheckpoint } from '../checkpoints/runCheckpoint.js';
import type { HubOptions } from '../options.js';
import { startHub } from '../startHub.js';
import { connectClient, TEST_LISTEN } from '../testing/testHub.js';
import { trainUntilTarget } from '../testing/trainUntilTarget.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { NatsPayloadTooLargeError } from './clusterErrors.js';
import { NatsShardRef } from './NatsShardRef.js';
import { startNatsServer } from './natsServer.js';
import { connectRemoteShards } from './remoteShards.js';
import { spawnRole } from './testing/roleCli.js';
import { clusterHubOptions, openedClusterAfterEach, spawnTestShard } from './testing/clusterFixture.js';
import { spawnShardCli, type ShardCli } from './testing/shardCli.js';

/**
 * The cluster as an operator runs it: a real nats-server, each shard a `--role shard` process of the
 * hub CLI, a coordinator hub (in this process) on them, and two headless workers. One shard process
 * is SIGKILLed mid-run and started again: it resumes from its own checkpoint, and neither the hub nor
 * the workers restart. Same model, mode, workers and target as server/integration/training.test.ts.
 */

const TARGET_ACCURACY = 0.9;
const EXAMPLE_BUDGET = 40_000;
const WORKERS = 2;
const BATCH = 64;
const SHARDS = 2;
const PREFIX = 'cluster-test';
/** The shard killed, and when: early enough that the run is far from the target. */
const KILLED_SHARD = 1;
const KILL_AT_STEP = 60;
/** How long the shard stays dead before it is started again. */
const DEAD_MS = 2_000;

const opened = openedClusterAfterEach();

async function spawnShard(natsUrl: string, index: number, checkpointDir: string): Promise<ShardCli> {
  return spawnTestShard(opened, { natsUrl, index, shards: SHARDS, checkpointDir, subjectPrefix: PREFIX });
}

const hubOptions = (overrides: Partial<HubOptions> = {}): HubOptions => clusterHubOptions(SHARDS, overrides);

describe('a coordinator on shard processes over NATS', () => {
  it(`trains cnn to test accuracy >= ${TARGET_ACCURACY} through a SIGKILL and restart of a shard process`, async () => {
    await initNodeTf('wasm');
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const dir = await mkdtemp(join(tmpdir(), 'cluster-'));
    opened.dirs.push(dir);
    const shardChildren = await Promise.all(
      Array.from({ length: SHARDS }, (_, i) => spawnShard(nats.url, i, dir)),
    );
    const hubLog: string[] = [];
    const remote = await connectRemoteShards({
      natsUrl: nats.url,
      shards: SHARDS,
      subjectPrefix: PREFIX,
      log: (line) => hubLog.push(line),
    });
    opened.remote.push(remote);

    // A coordinator that splits the model otherwise than its shards is refused before it serves.
    await expect(
      startHub(hubOptions({ model: 'mlp' }), TEST_LISTEN, undefined, {
        shards: remote.refs,
      }),
    ).rejects.toThrow(/shard 0 holds floats \[0, \+2997\), but --model mlp --shards 2 puts shard 0 at/);

    const running = await startHub(hubOptions(), TEST_LISTEN, undefined, {
      shards: remote.refs,
    });
    opened.hubs.push(running);
    for (let i = 0; i < WORKERS; i++) opened.clients.push(await connectClient(running, 'wasm'));

    let restarted: Promise<ShardCli> | null = null;
    let statusWhileDown: { code: number; body: unknown } | null = null;
    let stepAtRestart = -1;
    const killAndRestart = async (): Promise<ShardCli> => {
      const victim = shardChildren[KILLED_SHARD].child;
      victim.kill('SIGKILL');
      await once(victim, 'exit');
      await new Promise((resolve) => setTimeout(resolve, DEAD_MS));
      const response = await fetch(`${running.url}/api/status`);
      statusWhileDown = { code: response.status, body: await response.json() };
      const child = await spawnShard(nats.url, KILLED_SHARD, dir);
      stepAtRestart = running.hub.coordinator.status().globalStep;
      return child;
    };
    const refusedCodes: string[] = [];
    const workers = opened.clients.map(
      (client) =>
        new GradientWorker({
          client,
          batchSize: BATCH,
          maxSteps: Math.floor(EXAMPLE_BUDGET / BATCH / WORKERS),
          onStep: (report) => {
            if (report.globalStep >= KILL_AT_STEP) restarted ??= killAndRestart();
          },
          onRefused: (error) => refusedCodes.push(error.code),
        }),
    );
    const { best, reached, summaries, seconds } = await trainUntilTarget(
      running.hub,
      workers,
      TARGET_ACCURACY,
    );
    expect(restarted).not.toBeNull();
    const comeBack = await restarted!;
    const status = await running.hub.status();
    console.log(
      `cluster: test accuracy ${best.accuracy.toFixed(4)} after ${best.examplesSeen} examples in ` +
        `${seconds.toFixed(1)} s; ${status.refusals[ErrorCode.ShardUnavailable] ?? 0} SHARD_UNAVAILABLE ` +
        `refusals; workers' refusals ${JSON.stringify(refusedCodes)}; ` +
        `${summaries.reduce((n, s) => n + s.steps, 0)} gradients accepted`,
    );
    // Held for two evaluations in a row (trainUntilTarget's default), within the budget.
    expect(reached).toBe(true);
    expect(best.examplesSeen).toBeLessThanOrEqual(EXAMPLE_BUDGET);
    expect(best.accuracy).toBeGreaterThanOrEqual(TARGET_ACCURACY);
    // Training went on after the restart, with the same hub and the same workers.
    expect(stepAtRestart).toBeGreaterThanOrEqual(KILL_AT_STEP);
    expect(status.globalStep).toBeGreaterThan(stepAtRestart);
    // While the shard was down the hub answered, with a named code.
    expect(statusWhileDown).toEqual({
      code: 503,
      body: { code: ErrorCode.ShardUnavailable, message: expect.stringMatching(/^shard 1 is not answering/) },
    });

    // The restarted shard came back from its own checkpoint, and the workers were told to wait.
    expect(comeBack.output()).toMatch(
      new RegExp(`shard ${KILLED_SHARD}: resumed from .*shard-${KILLED_SHARD}/checkpoint-.*: version \\d+`),
    );
    expect(status.refusals[ErrorCode.ShardUnavailable]).toBeGreaterThan(0);
    expect(hubLog.join('\n')).toMatch(new RegExp(`shard ${KILLED_SHARD} answers again`));

    // What the hub reports of each shard is what the shard itself says.
    const connection = await connect({ servers: nats.url });
    opened.connections.push(connection);
    const direct = await Promise.all(
      Array.from({ length: SHARDS }, (_, index) =>
        new NatsShardRef({ connection, index, subjectPrefix: PREFIX }).ask({ type: 'status' }),
      ),
    );
    expect(status.shards).toEqual(direct);
    // The shard that never died saw every accepted push.
    expect(direct[1 - KILLED_SHARD].version).toBeGreaterThanOrEqual(status.globalStep);

    // The hub's run checkpoint holds the coordinator's state only: the shards keep their own.
    const saved = await running.hub.checkpoint();
    expect(saved.shards).toEqual([]);
    expect(saved.coordinator.globalStep).toBe(status.globalStep);
    // And an embedded hub refuses it rather than start fresh shards under its counters.
    const runDir = join(dir, 'run');
    await new CheckpointStore(runDir, 1).write(encodeRunCheckpoint(saved), saved.coordinator.globalStep);
    const runCheckpoints = { dir: runDir, intervalMs: 60_000, keep: 1, fresh: false };
    const embedded = startHub(hubOptions(), TEST_LISTEN, runCheckpoints);
    await expect(embedded).rejects.toBeInstanceOf(CheckpointMismatchError);
    await expect(embedded).rejects.toThrow(/was saved by a coordinator \(--role coordinator\)/);
    // A coordinator started again resumes it, on the shard processes as they are.
    const again = await startHub(hubOptions(), TEST_LISTEN, runCheckpoints, {
      shards: remote.refs,
    });
    opened.hubs.push(again);
    expect(again.hub.coordinator.status()).toMatchObject({
      globalStep: saved.coordinator.globalStep,
      examplesSeen: saved.coordinator.examplesSeen,
    });
    expect((await again.hub.status()).shards).toEqual(direct);
  }, 300_000);
});

describe('the CLI roles', () => {
  it('--role coordinator serves on --role shard processes, a --role gateway on it; each shuts down cleanly on SIGTERM', async () => {
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const dir = await mkdtemp(join(tmpdir(), 'cluster-cli-'));
    opened.dirs.push(dir);
    const shards = await Promise.all([spawnShard(nats.url, 0, dir), spawnShard(nats.url, 1, dir)]);
    const coordinatorCli = await spawnRole('coordinator', [
      ...['--nats', nats.url, '--shards', String(SHARDS), '--model', 'cnn', '--subject-prefix', PREFIX],
      ...['--mode', 'async'],
      ...['--checkpoint-dir', dir, '--eval-interval', '600'],
    ]);
    const coordinator = coordinatorCli.child;
    opened.children.push(coordinator);
    const { url } = coordinatorCli;
    const output = coordinatorCli.output();
    expect(output).toMatch(/hub: async mode, model cnn \(5,994 parameters\), 2 shard\(s\) on NATS/);

    // One update on shard 1, straight to its process: the coordinator's status shows it.
    const connection = await connect({ servers: nats.url });
    opened.connections.push(connection);
    const ref = new NatsShardRef({ connection, index: 1, subjectPrefix: PREFIX });
    const { offset, length } = await ref.ask({ type: 'status' });
    await ref.ask({
      type: 'apply',
      pushId: 'cli-test-1',
      pieces: [{ offset, values: new Float32Array(length).fill(0.5) }],
      lrScale: 1,
    });
    const status = (await (await fetch(`${url}/api/status`)).json()) as { shards: unknown[] };
    expect(status.shards).toEqual([
      await new NatsShardRef({ connection, index: 0, subjectPrefix: PREFIX }).ask({ type: 'status' }),
      await ref.ask({ type: 'status' }),
    ]);

    // A --role gateway process takes the run from the coordinator and answers its /api/status.
    const gatewayCli = await spawnRole('gateway', ['--nats', nats.url, '--subject-prefix', PREFIX]);
    const gateway = gatewayCli.child;
    opened.children.push(gateway);
    const gatewayUrl = gatewayCli.url;
    const gatewayOutput = gatewayCli.output();
    expect(gatewayOutput).toMatch(
      /gateway: async mode, model cnn \(5,994 parameters\), 2 shard\(s\) on NATS/,
    );
    const [atGateway, atCoordinator] = await Promise.all(
      [gatewayUrl, url].map(async (at) => (await fetch(`${at}/api/status`)).json()),
    );
    expect(atGateway).toMatchObject({ globalStep: 0, shards: status.shards });
    expect({ ...atGateway, uptimeSec: 0 }).toEqual({ ...atCoordinator, uptimeSec: 0 });
    gateway.kill('SIGTERM');
    const [gatewayCode] = (await once(gateway, 'exit')) as [number | null];
    expect(gatewayCode).toBe(0);

    coordinator.kill('SIGTERM');
    const [coordinatorCode] = (await once(coordinator, 'exit')) as [number | null];
    expect(coordinatorCode).toBe(0);
    for (const shard of shards) {
      shard.child.kill('SIGTERM');
      const [code] = (await once(shard.child, 'exit')) as [number | null];
      expect(code).toBe(0);
    }
    // Only the shard that changed writes a last checkpoint.
    expect(shards[1].output()).toMatch(/shard 1: SIGTERM, writing a last checkpoint/);
    expect(shards[1].output()).toMatch(/shard 1: checkpoint at version 1 -> .*shard-1\/checkpoint-/);
    expect(shards[0].output()).not.toMatch(/shard 0: checkpoint at/);
  }, 120_000);

  it("a coordinator refuses to start when NATS would refuse its shards' messages, naming max_payload", async () => {
    const nats = await startNatsServer({ maxPayloadBytes: 16 * 1024 });
    opened.nats.push(nats);
    const dir = await mkdtemp(join(tmpdir(), 'cluster-payload-'));
    opened.dirs.push(dir);
    // One shard: the whole cnn, 5,994 floats (24 kB).
    const shard = await spawnShardCli({
      natsUrl: nats.url,
      index: 0,
      shards: 1,
      checkpointDir: dir,
      subjectPrefix: PREFIX,
      args: ['--model', 'cnn'],
    });
    opened.children.push(shard.child);
    const connecting = connectRemoteShards({ natsUrl: nats.url, shards: 1, subjectPrefix: PREFIX });
    await expect(connecting).rejects.toBeInstanceOf(NatsPayloadTooLargeError);
    await expect(connecting).rejects.toThrow(
      /a push or pull for shard 0 on NATS subject "cluster-test\.shard\.0" is 28072 bytes, above the NATS server's max_payload of 16384 bytes/,
    );
  });
});
