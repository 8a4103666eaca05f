import { HubClient } from '../shared/HubClient.js';
import { testGradient } from '../server/testing/testHub.js';
import type { ChildServer } from './ChildServer.js';
import type { ProcessUsage } from './childProtocol.js';
import { startChildHub, using } from './hubs.js';
import type { Log } from './log.js';
import type { VolunteerStage, VolunteersResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { quantile, sleep } from './stats.js';

/** Clients that connect at the same time (a crowd arriving, not a thundering herd of 500). */
const CONNECT_CONCURRENCY = 25;
const MB = 1024 * 1024;

interface PushRecord {
  latencies: number[];
  errors: number;
}

type Pusher = () => Promise<void>;

/**
 * 500 simulated volunteers: real socket.io clients (HubClient, registered with hello) in this process,
 * the hub (cnn, the smallest model: a 23,976-byte gradient) in a child process whose CPU time and RSS
 * are its own. Two stages:
 *   steady: each client pushes on its own clock (open loop, random phase), a few times a second;
 *   saturated: each client keeps one push in flight, back to back: the most pushes/s the hub takes.
 * Ack latency is measured by the clients, from the emit to the ack.
 */
export async function measureVolunteers(settings: BenchSettings, log: Log): Promise<VolunteersResult> {
  const { clients: count, pushesPerSecondPerClient, steadySeconds, saturatedSeconds } = settings.volunteers;
  return using(startChildHub({ model: 'cnn' }), async (hub) => {
    const idle = await hub.usage(true);
    const clients: HubClient[] = [];
    let connectErrors = 0;
    const connectStarted = performance.now();
    try {
      for (let i = 0; i < count; i += CONNECT_CONCURRENCY) {
        const batch = Math.min(CONNECT_CONCURRENCY, count - i);
        const results = await Promise.allSettled(
          Array.from({ length: batch }, () =>
            HubClient.connect({ url: hub.url, backend: 'bench-volunteer', ackTimeoutMs: 30_000 }),
          ),
        );
        for (const result of results) {
          if (result.status === 'fulfilled') clients.push(result.value);
          else connectErrors++;
        }
      }
      const connectSeconds = (performance.now() - connectStarted) / 1000;
      const connected = await hub.usage();
      log(
        `  ${clients.length} clients connected in ${connectSeconds.toFixed(1)} s (${connectErrors} failed)`,
      );
      if (clients.length === 0) throw new Error('no client could connect');

      const floats = clients[0].config.params;
      const gradient = testGradient(floats, 3);
      const { versions } = await clients[0].pull();
      const pushers: Pusher[] = clients.map(
        (client) => () => client.push({ gradient, versions, examples: 64, loss: 1 }).then(() => undefined),
      );

      const periodMs = 1000 / pushesPerSecondPerClient;
      const steady = await stage(
        hub,
        {
          name: 'steady',
          description: `each client ${pushesPerSecondPerClient} pushes/s, open loop`,
          seconds: steadySeconds,
          offeredPerSec: pushers.length * pushesPerSecondPerClient,
        },
        (record, until) => Promise.all(pushers.map((push) => steadyLoop(push, periodMs, until, record))),
      );
      log(describeStage(steady));
      const saturated = await stage(
        hub,
        {
          name: 'saturated',
          description: 'each client one push in flight, back to back',
          seconds: saturatedSeconds,
          offeredPerSec: null,
        },
        (record, until) => Promise.all(pushers.map((push) => saturatedLoop(push, until, record))),
      );
      log(describeStage(saturated));
      const end = await hub.usage();
      return {
        clients: clients.length,
        model: clients[0].config.model,
        gradientBytes: floats * 4,
        connectSeconds,
        connectErrors,
        stages: [steady, saturated],
        hubRssMb: {
          idle: idle.rss / MB,
          connected: connected.rss / MB,
          peak: end.peakRss / MB,
          end: end.rss / MB,
        },
      };
    } finally {
      for (const client of clients) client.close();
    }
  });
}

async function stage(
  hub: ChildServer,
  info: Pick<VolunteerStage, 'name' | 'description' | 'seconds' | 'offeredPerSec'>,
  run: (record: PushRecord, until: number) => Promise<unknown>,
): Promise<VolunteerStage> {
  const record: PushRecord = { latencies: [], errors: 0 };
  const before: ProcessUsage = await hub.usage();
  const started = performance.now();
  await run(record, started + info.seconds * 1000);
  const elapsed = (performance.now() - started) / 1000;
  const after: ProcessUsage = await hub.usage();
  const pushes = record.latencies.length;
  const cpuMs = (after.cpuMicros - before.cpuMicros) / 1000;
  return {
    ...info,
    seconds: elapsed,
    pushesPerSec: pushes / elapsed,
    pushes,
    errors: record.errors,
    p50Ms: quantile(record.latencies, 0.5),
    p99Ms: quantile(record.latencies, 0.99),
    maxMs: quantile(record.latencies, 1),
    hubCpuMsPerPush: pushes > 0 ? cpuMs / pushes : NaN,
    hubCpuCores: cpuMs / 1000 / elapsed,
  };
}

async function timedPush(push: Pusher, record: PushRecord): Promise<void> {
  const started = performance.now();
  try {
    await push();
    record.latencies.push(performance.now() - started);
  } catch {
    record.errors++;
  }
}

/** Pushes every `periodMs` from a random phase; a slot missed while a push was in flight is skipped. */
async function steadyLoop(push: Pusher, periodMs: number, until: number, record: PushRecord): Promise<void> {
  let next = performance.now() + Math.random() * periodMs;
  while (next < until) {
    await sleep(next - performance.now());
    await timedPush(push, record);
    next = Math.max(next + periodMs, performance.now());
  }
}

async function saturatedLoop(push: Pusher, until: number, record: PushRecord): Promise<void> {
  while (performance.now() < until) await timedPush(push, record);
}

function describeStage(s: VolunteerStage): string {
  return (
    `  ${s.name}: ${s.pushesPerSec.toFixed(0)} pushes/s, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, ` +
    `${s.errors} errors, hub ${s.hubCpuMsPerPush.toFixed(3)} ms CPU/push`
  );
}
