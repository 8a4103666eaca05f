import { HubClient } from '../shared/HubClient.js';
import { testGradient } from '../server/testing/testHub.js';
import type { HubStatus } from '../server/hubStatus.js';
import { BENCH_CLUSTER_SHARDS, startBenchCluster } from './benchCluster.js';
import type { Log } from './log.js';
import { processCpuMs } from './procCpu.js';
import type { GatewaysResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio } from './stats.js';

/**
 * Aggregate pushes/s of a cluster on NATS (issue 9): nats-server, two `--role shard` processes, a
 * `--role coordinator` and two `--role gateway` processes of the CLI, each a process of its own. The
 * same load, `clients` simulated volunteers each keeping one cnn push in flight, goes either all to
 * one gateway or half to each of the two, in turns; the figure is the median pushes/s of each arm,
 * and the coordinator process's CPU time per push it accepted in each arm (what bounds the cluster:
 * every gateway's pushes go through it).
 */
export async function measureGateways(settings: BenchSettings, log: Log): Promise<GatewaysResult> {
  const { clients: count, seconds, reps } = settings.gateways;
  const cluster = await startBenchCluster('async', 2);
  const clients: HubClient[] = [];
  try {
    const { coordinator, gateways } = cluster;
    const coordinatorPid = coordinator.child.pid!;
    log(`  cluster: nats-server, ${BENCH_CLUSTER_SHARDS} shard processes, a coordinator, 2 gateways`);

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
    const accepted = async () =>
      ((await (await fetch(`${coordinator.url}/api/status`)).json()) as HubStatus).pushesAccepted;
    let errors = 0;
    /** One arm's window: pushes/s, and the coordinator's CPU ms per push it accepted meanwhile. */
    const measure = async (arm: HubClient[]): Promise<{ rate: number; cpuMsPerPush: number | null }> => {
      let pushes = 0;
      const acceptedBefore = await accepted();
      const cpuBefore = processCpuMs(coordinatorPid);
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
      const rate = pushes / ((performance.now() - started) / 1000);
      const cpuMs = processCpuMs(coordinatorPid) - cpuBefore;
      return { rate, cpuMsPerPush: ratio(cpuMs, (await accepted()) - acceptedBefore) };
    };
    await measure(twoGateways); // warm-up: JIT, sockets, NATS subscriptions
    const one: number[] = [];
    const two: number[] = [];
    const oneCpu: number[] = [];
    const twoCpu: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which arm goes first, so a drift in the machine's load falls on both.
      for (const arm of rep % 2 === 0 ? (['one', 'two'] as const) : (['two', 'one'] as const)) {
        const { rate, cpuMsPerPush } = await measure(arm === 'one' ? oneGateway : twoGateways);
        (arm === 'one' ? one : two).push(rate);
        if (cpuMsPerPush !== null) (arm === 'one' ? oneCpu : twoCpu).push(cpuMsPerPush);
      }
      log(
        `  repetition ${rep + 1}: one gateway ${one.at(-1)!.toFixed(0)}/s, two ${two.at(-1)!.toFixed(0)}/s; ` +
          `coordinator CPU ms/push ${oneCpu.at(-1)?.toFixed(3)} / ${twoCpu.at(-1)?.toFixed(3)}`,
      );
    }
    return {
      clients: count,
      seconds,
      model: 'cnn',
      gradientBytes: gradient.byteLength,
      shards: BENCH_CLUSTER_SHARDS,
      oneGateway: median(one),
      twoGateways: median(two),
      ratio: ratio(median(two), median(one)),
      oneSamples: one,
      twoSamples: two,
      oneCoordinatorCpuMsPerPush: oneCpu.length > 0 ? median(oneCpu) : null,
      twoCoordinatorCpuMsPerPush: twoCpu.length > 0 ? median(twoCpu) : null,
      errors,
    };
  } finally {
    for (const client of clients) client.close();
    await cluster.close();
  }
}
