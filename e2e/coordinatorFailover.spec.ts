import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubStatus } from '../server/hubStatus.js';
import { startGateway } from '../server/cluster/gatewayProcess.js';
import { startNatsServer } from '../server/cluster/natsServer.js';
import {
  closeOpenedCluster,
  newOpenedCluster,
  spawnOpenedShards,
} from '../server/cluster/testing/openedCluster.js';
import { spawnRole, spawnRoleUntil } from '../server/cluster/testing/roleCli.js';
import { describeTab, expect, test } from './fixtures.js';

// Issue 15, acceptance 1 with a real tab: `--role coordinator` processes (an active one and a
// standby) of one run on two shard processes; a tab trains through a gateway while the active
// coordinator is SIGKILLed. The standby takes over and the same tab, never reloaded, trains on.

const SHARDS = 2;
const PREFIX = 'e2e-failover';
const MOVES_AGAIN_WITHIN_MS = 10_000;

const opened = newOpenedCluster();
test.afterEach(() => closeOpenedCluster(opened));

async function statusAt(url: string): Promise<HubStatus | null> {
  const response = await fetch(`${url}/api/status`).catch(() => null);
  return response?.ok ? ((await response.json()) as HubStatus) : null;
}

test('a tab on a gateway trains on through a SIGKILL of the active coordinator; the standby takes over', async ({
  openWorker,
}) => {
  const nats = await startNatsServer();
  opened.nats.push(nats);
  const dir = await mkdtemp(join(tmpdir(), 'e2e-failover-'));
  opened.dirs.push(dir);
  await spawnOpenedShards(opened, {
    natsUrl: nats.url,
    shards: SHARDS,
    checkpointDir: dir,
    subjectPrefix: PREFIX,
    args: ['--model', 'cnn', '--checkpoint-secs', '1'],
  });
  const args = [
    ...['--nats', nats.url, '--subject-prefix', PREFIX, '--shards', String(SHARDS), '--model', 'cnn'],
    ...['--mode', 'async', '--checkpoint-dir', dir, '--eval-interval', '3600'],
  ];
  const active = await spawnRole('coordinator', args);
  opened.children.push(active.child);
  const standby = await spawnRoleUntil('coordinator', args, /hub: standby: /);
  opened.children.push(standby.child);
  const gateway = await startGateway({
    natsUrl: nats.url,
    subjectPrefix: PREFIX,
    host: '127.0.0.1',
    port: 0,
  });
  opened.gateways.push(gateway);

  const tab = await openWorker(gateway.url, { backend: 'wasm' });
  await expect.poll(async () => (await tab.status()).steps, { timeout: 120_000 }).toBeGreaterThanOrEqual(20);
  const before = await tab.status();
  active.child.kill('SIGKILL');
  const killedAt = Date.now();
  const takenOverAt = await standby.serving;

  // The same tab pushes again: its step count moves past where it was at the kill.
  let movedAt = 0;
  await expect
    .poll(
      async () => {
        const steps = (await tab.status()).steps;
        if (steps > before.steps + 1 && movedAt === 0) movedAt = Date.now();
        return steps;
      },
      { timeout: 60_000, intervals: [100] },
    )
    .toBeGreaterThan(before.steps + 10);
  const after = await tab.status();
  console.log(
    `  ${describeTab(after)}; moved again ${movedAt - killedAt} ms after the SIGKILL (standby at ${takenOverAt})`,
  );
  expect(movedAt - killedAt).toBeLessThan(MOVES_AGAIN_WITHIN_MS);
  expect(after.phase).toBe('training');
  // It said hello again by itself: the coordinator that took over knows it under a new id.
  expect(after.workerId).not.toBe(before.workerId);
  const status = await statusAt(takenOverAt);
  expect(status?.workers.map((w) => w.id)).toEqual([after.workerId]);
  expect(status!.globalStep).toBeGreaterThan(before.steps);
});
