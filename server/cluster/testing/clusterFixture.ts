import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterEach } from 'vitest';
import type { HubClient } from '../../../shared/HubClient.js';
import { DEFAULT_HUB_OPTIONS, type HubOptions } from '../../options.js';
import type { RunningHub } from '../../startHub.js';
import type { RunningGateway } from '../gatewayProcess.js';
import type { NatsCoordinatorHost } from '../NatsCoordinatorHost.js';
import type { RunningNatsServer } from '../natsServer.js';
import type { RemoteShards } from '../remoteShards.js';
import { spawnShardCli, type ShardCli } from './shardCli.js';

/** What a cluster test opened: a test file's afterEach closes it all (see openedClusterAfterEach). */
export interface OpenedCluster {
  readonly clients: HubClient[];
  readonly gateways: RunningGateway[];
  readonly hosts: NatsCoordinatorHost[];
  readonly hubs: RunningHub[];
  readonly remote: RemoteShards[];
  readonly connections: NatsConnection[];
  readonly children: ChildProcess[];
  readonly nats: RunningNatsServer[];
  readonly dirs: string[];
}

/**
 * Lists to put what a test opens in; after each test everything is closed, workers first and the
 * NATS server and temporary folders last, child processes killed with SIGKILL if still running.
 */
export function openedClusterAfterEach(): OpenedCluster {
  const opened: OpenedCluster = {
    clients: [],
    gateways: [],
    hosts: [],
    hubs: [],
    remote: [],
    connections: [],
    children: [],
    nats: [],
    dirs: [],
  };
  afterEach(async () => {
    opened.clients.splice(0).forEach((client) => client.close());
    for (const gateway of opened.gateways.splice(0)) await gateway.close();
    for (const host of opened.hosts.splice(0)) await host.close();
    for (const hub of opened.hubs.splice(0)) await hub.close();
    for (const remote of opened.remote.splice(0)) await remote.close();
    for (const connection of opened.connections.splice(0)) await connection.close();
    for (const child of opened.children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    for (const server of opened.nats.splice(0)) await server.close();
    for (const dir of opened.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  return opened;
}

/** The cluster tests' run: cnn, async, an evaluation every 2 s on the whole test set. */
export function clusterHubOptions(shards: number, overrides: Partial<HubOptions> = {}): HubOptions {
  return {
    ...DEFAULT_HUB_OPTIONS,
    mode: 'async',
    model: 'cnn',
    shards,
    evalIntervalMs: 2_000,
    evalExamples: 10_000,
    // A restarted shard's version goes back to its checkpoint's: staleness must be counted from
    // there, or every later gradient would be refused as TOO_STALE.
    maxStaleness: 4,
    ...overrides,
  };
}

/** A `--role shard` process of the tests' run (cnn, seed 7, a checkpoint every 0.5 s), closed after the test. */
export async function spawnTestShard(
  opened: OpenedCluster,
  options: { natsUrl: string; index: number; shards: number; checkpointDir: string; subjectPrefix: string },
): Promise<ShardCli> {
  const shard = await spawnShardCli({
    ...options,
    args: ['--model', 'cnn', '--seed', '7', '--checkpoint-secs', '0.5'],
  });
  opened.children.push(shard.child);
  return shard;
}
