import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubClient } from '../shared/HubClient.js';
import { startNatsServer } from '../server/cluster/natsServer.js';
import { spawnShardCli, type ShardCli } from '../server/cluster/testing/shardCli.js';
import { testGradient } from '../server/testing/testHub.js';
import { spawnRole, type RoleProcess } from '../server/cluster/testing/roleCli.js';
import type { Log } from './log.js';
import type { GatewaysResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio } from './stats.js';

const SHARDS = 2;
const PREFIX = 'bench';

/**
 * Aggregate pushes/s of a cluster on NATS (issue 9): nats-server, two `--role shard` processes, a
 * `--role coordinator` and two `--role gateway` processes of the CLI, each a process of its own. The
 * same load, `clients` simulated volunteers each keeping one cnn push in flight, goes either all to
 * one gateway or half to each of the two, in turns; the figure is the median pushes/s of each arm.
 */
export async function measureGateways(settings: BenchSettings, log: Log): Promise<GatewaysResult> {
  const { clients: count, seconds, reps } = settings.gateways;
  const nats = await startNatsServer();
  const dir = await mkdtemp(join(tmpdir(), 'bench-gateways-'));
  const shards: ShardCli[] = [];
  const roles: RoleProcess[] = [];
  const clients: HubClient[] = [];
  try {
    const cluster = ['--nats', nats.url, '--subject-prefix', PREFIX];
    for (let index = 0; index < SHARDS; index++) {
      shards.push(
        await spawnShardCli({
          natsUrl: nats.url,
          index,
          shards: SHARDS,
          checkpointDir: dir,
          subjectPrefix: PREFIX,
          args: ['--model', 'cnn', '--checkpoint-secs', '3600'],
        }),
      );
    }
    roles.push(
      await spawnRole('coordinator', [
        ...cluster,
        ...['--model', 'cnn', '--shards', String(SHARDS), '--checkpoint-dir', dir, '--eval-interval', '3600'],
        ...['--mode', 'async'],
      ]),
    );
    const gateways = [await spawnRole('gateway', cluster), await spawnRole('gateway', cluster)];
    roles.push(...gateways);
    log(`  cluster: nats-server, ${SHARDS} shard processes, a coordinator, 2 gateways`);

    const connect = (url: string) =>
      HubClient.connect({ url, backend: 'bench-gateways', ackTimeoutMs: 30_000 });
    // Both arms' clients stay connected; only one arm pushes at a time.
    const oneGateway: HubClient[] = [];
    const twoGateways: HubClient[] = [];
    for (let i = 0; i < count; i++) oneGateway.push(await connect(gateways[0].url));
    for (let i = 0; i < count; i++) twoGateways.push(await connect(gateways[i % 2].url));
    clients.push(...oneGateway, ...twoGateways);

    const gradient = testGradient(oneGateway[0].config.params, 5);
    const { versions } = await oneGateway[0].pull();
    let errors = 0;
    const pushesPerSecond = async (arm: HubClient[]): Promise<number> => {
      let pushes = 0;
      const until = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        arm.map(async (client) => {
          while (performance.now() < until) {
            try {
              await client.push({ gradient, versions, examples: 64, loss: 1 });
              pushes++;
            } catch {
              errors++;
            }
          }
        }),
      );
      return pushes / ((performance.now() - started) / 1000);
    };
    await pushesPerSecond(twoGateways); // warm-up: JIT, sockets, NATS subscriptions
    const one: number[] = [];
    const two: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which arm goes first, so a drift in the machine's load falls on both.
      const order = rep % 2 === 0 ? ([one, two] as const) : ([two, one] as const);
      for (const samples of order)
        samples.push(await pushesPerSecond(samples === one ? oneGateway : twoGateways));
      log(
        `  repetition ${rep + 1}: one gateway ${one.at(-1)!.toFixed(0)}/s, two ${two.at(-1)!.toFixed(0)}/s`,
      );
    }
    return {
      clients: count,
      seconds,
      model: 'cnn',
      gradientBytes: gradient.byteLength,
      shards: SHARDS,
      oneGateway: median(one),
      twoGateways: median(two),
      ratio: ratio(median(two), median(one)),
      oneSamples: one,
      twoSamples: two,
      errors,
    };
  } finally {
    for (const client of clients) client.close();
    for (const role of roles.reverse()) await role.close();
    for (const shard of shards) {
      if (shard.child.exitCode !== null || shard.child.signalCode !== null) continue;
      shard.child.kill('SIGTERM');
      await once(shard.child, 'exit');
    }
    await nats.close();
    await rm(dir, { recursive: true, force: true });
  }
}
