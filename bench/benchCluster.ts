import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../server/cluster/natsServer.js';
import { spawnRole, type RoleProcess } from '../server/cluster/testing/roleCli.js';
import { spawnShardCli, type ShardCli } from '../server/cluster/testing/shardCli.js';
import type { TrainingMode } from '../shared/protocol.js';

export const BENCH_CLUSTER_SHARDS = 2;
const PREFIX = 'bench';

/** A cluster on NATS of the CLI's own processes, as on separate machines (figures 7 and 7b). */
export interface BenchCluster {
  readonly coordinator: RoleProcess;
  readonly gateways: readonly RoleProcess[];
  close(): Promise<void>;
}

/**
 * nats-server, two `--role shard` processes, a `--role coordinator` in `mode` and `gateways`
 * `--role gateway` processes (cnn), the coordinator with `coordinatorFlags` too. No evaluation, checkpoint or check wakes up during a measurement:
 * test evaluation and checkpoints every hour, no known-answer check (gateways skip it anyway, and the
 * bench's clients push made-up gradients) and no spot checks.
 */
export async function startBenchCluster(
  mode: TrainingMode,
  gateways: number,
  coordinatorFlags: readonly string[] = [],
): Promise<BenchCluster> {
  const nats = await startNatsServer();
  const dir = await mkdtemp(join(tmpdir(), 'bench-cluster-'));
  const shards: ShardCli[] = [];
  const roles: RoleProcess[] = [];
  const close = async (): Promise<void> => {
    for (const role of roles.reverse()) await role.close();
    for (const shard of shards) {
      if (shard.child.exitCode !== null || shard.child.signalCode !== null) continue;
      shard.child.kill('SIGTERM');
      await once(shard.child, 'exit');
    }
    await nats.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const cluster = ['--nats', nats.url, '--subject-prefix', PREFIX];
    for (let index = 0; index < BENCH_CLUSTER_SHARDS; index++) {
      shards.push(
        await spawnShardCli({
          natsUrl: nats.url,
          index,
          shards: BENCH_CLUSTER_SHARDS,
          checkpointDir: dir,
          subjectPrefix: PREFIX,
          args: ['--model', 'cnn', '--checkpoint-secs', '3600'],
        }),
      );
    }
    const coordinator = await spawnRole('coordinator', [
      ...cluster,
      ...['--model', 'cnn', '--shards', String(BENCH_CLUSTER_SHARDS), '--checkpoint-dir', dir],
      ...['--eval-interval', '3600', '--checkpoint-secs', '3600', '--no-known-answer', '--spot-check', '0'],
      ...['--mode', mode],
      ...coordinatorFlags,
    ]);
    roles.push(coordinator);
    for (let i = 0; i < gateways; i++) roles.push(await spawnRole('gateway', cluster));
    return { coordinator, gateways: roles.slice(1), close };
  } catch (error) {
    await close();
    throw error;
  }
}
