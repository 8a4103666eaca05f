import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { HubClient } from '../../../shared/HubClient.js';
import type { RunningHub } from '../../startHub.js';
import type { RunningCoordinator } from '../coordinatorProcess.js';
import type { RunningGateway } from '../gatewayProcess.js';
import type { NatsCoordinatorHost } from '../NatsCoordinatorHost.js';
import type { RunningNatsServer } from '../natsServer.js';
import type { RemoteShards } from '../remoteShards.js';
import { spawnShardCli, type ShardCli, type ShardCliOptions } from './shardCli.js';

/**
 * What a cluster test opened, to close after it: the vitest tests (clusterFixture.ts) and the
 * Playwright spec (e2e/cluster.spec.ts) share this, each from its own afterEach.
 */
export interface OpenedCluster {
  readonly clients: HubClient[];
  readonly gateways: RunningGateway[];
  readonly hosts: NatsCoordinatorHost[];
  readonly hubs: RunningHub[];
  /** What `--role coordinator` runs (startCoordinatorProcess), in the test's process. */
  readonly coordinators: RunningCoordinator[];
  readonly remote: RemoteShards[];
  readonly connections: NatsConnection[];
  readonly children: ChildProcess[];
  readonly nats: RunningNatsServer[];
  readonly dirs: string[];
}

export function newOpenedCluster(): OpenedCluster {
  return {
    clients: [],
    gateways: [],
    hosts: [],
    hubs: [],
    coordinators: [],
    remote: [],
    connections: [],
    children: [],
    nats: [],
    dirs: [],
  };
}

/**
 * Closes everything, workers first and the NATS server and temporary folders last; child processes
 * still running are killed with SIGKILL. A gateway or hub that fails to close does not keep the rest
 * open (the test has failed already, or will say why).
 */
export async function closeOpenedCluster(opened: OpenedCluster): Promise<void> {
  opened.clients.splice(0).forEach((client) => client.close());
  for (const gateway of opened.gateways.splice(0)) await gateway.close().catch(() => undefined);
  for (const host of opened.hosts.splice(0)) await host.close();
  for (const hub of opened.hubs.splice(0)) await hub.close().catch(() => undefined);
  for (const coordinator of opened.coordinators.splice(0)) await coordinator.close().catch(() => undefined);
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
}

/** spawnShardCli, its process closed with the rest. */
export async function spawnOpenedShard(opened: OpenedCluster, options: ShardCliOptions): Promise<ShardCli> {
  const shard = await spawnShardCli(options);
  opened.children.push(shard.child);
  return shard;
}

/** Every shard process of a run (`shards` of them, indices 0..shards-1), closed with the rest. */
export function spawnOpenedShards(
  opened: OpenedCluster,
  options: Omit<ShardCliOptions, 'index'>,
): Promise<ShardCli[]> {
  return Promise.all(
    Array.from({ length: options.shards }, (_, index) => spawnOpenedShard(opened, { ...options, index })),
  );
}
