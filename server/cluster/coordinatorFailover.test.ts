import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import { HubClient, type PushOutcome } from '../../shared/HubClient.js';
import type { HubStatus } from '../hubStatus.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { startGateway } from './gatewayProcess.js';
import { startNatsServer } from './natsServer.js';
import { NatsShardRef } from './NatsShardRef.js';
import { openedClusterAfterEach } from './testing/clusterFixture.js';
import { spawnOpenedShards } from './testing/openedCluster.js';
import { spawnRole, spawnRoleUntil } from './testing/roleCli.js';

/**
 * Issue 15, criterion 1 on Node workers: a real nats-server with JetStream, two `--role shard`
 * processes, `--role coordinator` processes of the CLI and a gateway; two wasm workers train through
 * the gateway while the active coordinator is SIGKILLed. With a standby running it takes over; without
 * one the coordinator is started again. Either way the same worker objects carry on (they say hello
 * again by themselves), training moves again within 10 s, and the shards' ledgers hold: every push a
 * worker heard acknowledged was applied on every shard, and none twice.
 */

const SHARDS = 2;
const PREFIX = 'failover-test';
const WORKERS = 2;
const BATCH = 32;
/** Global steps before the kill, and accepted pushes per worker after it. */
const STEPS_BEFORE_KILL = 30;
const STEPS_AFTER_KILL = 15;
const MOVES_AGAIN_WITHIN_MS = 10_000;

const opened = openedClusterAfterEach();

async function statusAt(url: string): Promise<HubStatus | null> {
  try {
    const response = await fetch(`${url}/api/status`);
    return response.ok ? ((await response.json()) as HubStatus) : null;
  } catch {
    return null;
  }
}

async function until<T>(
  read: () => Promise<T | null>,
  done: (value: T) => boolean,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await read();
    if (value !== null && done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('a coordinator SIGKILLed while workers train through a gateway', () => {
  it.each([
    ['a standby takes over', true],
    ['it is started again', false],
  ])(
    '%s: the same workers carry on, no acknowledged push is lost or applied twice',
    async (_case, standby) => {
      await initNodeTf('wasm');
      const nats = await startNatsServer();
      opened.nats.push(nats);
      const dir = await mkdtemp(join(tmpdir(), 'failover-'));
      opened.dirs.push(dir);
      const run = ['--model', 'mlp', '--seed', '7'];
      await spawnOpenedShards(opened, {
        natsUrl: nats.url,
        shards: SHARDS,
        checkpointDir: dir,
        subjectPrefix: PREFIX,
        args: [...run, '--checkpoint-secs', '0.5'],
      });
      const coordinatorArgs = [
        ...['--nats', nats.url, '--subject-prefix', PREFIX, '--shards', String(SHARDS), ...run],
        ...['--mode', 'async', '--checkpoint-dir', dir, '--eval-interval', '3600'],
      ];
      const active = await spawnRole('coordinator', coordinatorArgs);
      opened.children.push(active.child);
      const waiting = standby ? await spawnRoleUntil('coordinator', coordinatorArgs, /hub: standby: /) : null;
      if (waiting) opened.children.push(waiting.child);
      const gateway = await startGateway({
        natsUrl: nats.url,
        subjectPrefix: PREFIX,
        host: '127.0.0.1',
        port: 0,
      });
      opened.gateways.push(gateway);

      const acknowledged = new Set<string>();
      let killedAt = Infinity;
      let movedAgainAt = Infinity;
      const afterKill = Array.from({ length: WORKERS }, () => 0);
      const clients: HubClient[] = [];
      const workers: GradientWorker[] = [];
      for (let i = 0; i < WORKERS; i++) {
        const client = await HubClient.connect({
          url: gateway.url,
          backend: 'wasm',
          reconnect: true,
          ackTimeoutMs: 20_000,
        });
        opened.clients.push(client);
        clients.push(client);
        // Every push the worker heard acknowledged, by id, to look for on the shards afterwards.
        const push = client.push.bind(client);
        client.push = async (input): Promise<PushOutcome> => {
          const sentAt = Date.now();
          const outcome = await push(input);
          acknowledged.add(outcome.pushId);
          // Sent after the kill (its first attempt, at least): an ack in flight at the kill does not count.
          if (sentAt > killedAt) {
            movedAgainAt = Math.min(movedAgainAt, Date.now());
            afterKill[i]++;
          }
          return outcome;
        };
        workers.push(new GradientWorker({ client, batchSize: BATCH }));
      }
      const firstIds = clients.map((client) => client.workerId);
      const runs = workers.map((worker) => worker.run());

      await until(
        () => statusAt(gateway.url),
        (s) => s.globalStep >= STEPS_BEFORE_KILL,
        'steps before the kill',
      );
      active.child.kill('SIGKILL');
      killedAt = Date.now();
      const takenOverBy = waiting
        ? await waiting.serving
        : (
            await spawnRole('coordinator', coordinatorArgs).then((again) => {
              opened.children.push(again.child);
              return again;
            })
          ).url;
      await until(
        async () => afterKill,
        (counts) => counts.every((n) => n >= STEPS_AFTER_KILL),
        'steps after the kill',
      );
      workers.forEach((worker) => worker.stop());
      // The same workers carried on: none of their loops ended in an error.
      const summaries = await Promise.all(runs);
      const movedAgainMs = movedAgainAt - killedAt;

      const status = (await statusAt(takenOverBy))!;
      const connection = await connect({ servers: nats.url });
      opened.connections.push(connection);
      const shards = await Promise.all(
        Array.from({ length: SHARDS }, (_, index) =>
          new NatsShardRef({ connection, index, subjectPrefix: PREFIX, timeoutMs: 10_000 }).ask({
            type: 'checkpoint',
          }),
        ),
      );
      console.log(
        `failover (${standby ? 'standby' : 'restart'}): training moved again ${movedAgainMs} ms after the SIGKILL; ` +
          `${acknowledged.size} pushes acknowledged; shard versions ${shards.map((s) => s.version).join(', ')}; ` +
          `global step ${status.globalStep}; workers ${JSON.stringify(status.workers.map((w) => [w.id, w.steps]))}`,
      );
      if (waiting)
        console.log(
          waiting
            .output()
            .match(/^.*(taking over|took over).*$/gm)
            ?.join('\n'),
        );
      expect(movedAgainMs).toBeLessThan(MOVES_AGAIN_WITHIN_MS);
      expect(summaries.every((summary) => summary.steps >= STEPS_AFTER_KILL)).toBe(true);
      // They said hello again by themselves, to the coordinator that carries the run on.
      clients.forEach((client, i) => {
        expect(client.workerId).not.toBe(firstIds[i]);
        expect(client.sessionId).toBeGreaterThan(0);
      });
      expect(status.workers.map((w) => w.id).sort()).toEqual(clients.map((c) => c.workerId).sort());
      // The state carried over: the global step went on from where the dead coordinator saved it.
      expect(status.globalStep).toBeGreaterThan(STEPS_BEFORE_KILL);
      for (const shard of shards) {
        const appliedPushes = shard.appliedPushes ?? [];
        const applied = new Set(appliedPushes.map(([id]) => id));
        // Every push applied once: one version per distinct push id (fresh shards start at version 0).
        expect(appliedPushes).toHaveLength(applied.size);
        expect(shard.version).toBe(applied.size);
        // Nothing acknowledged was lost.
        const missing = [...acknowledged].filter((id) => !applied.has(id));
        expect(missing).toEqual([]);
      }
    },
    300_000,
  );
});
