import { HubClient } from '../shared/HubClient.js';
import type { HubStatus } from '../server/hubStatus.js';
import { testGradient } from '../server/testing/testHub.js';
import { BENCH_CLUSTER_SHARDS, startBenchCluster, type BenchCluster } from './benchCluster.js';
import type { Log } from './log.js';
import { processCpuMs } from './procCpu.js';
import type { CoordinatorCostResult, CoordinatorCostRow, CoordinatorCostSample } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio, sleep } from './stats.js';

const MODES = ['async', 'sync', 'local'] as const;
type Mode = (typeof MODES)[number];
const GATEWAYS = 2;
const BATCH = 64;
/** How long the coordinator is watched with no worker connected, for its idle share of a core. */
const IDLE_MS = 2_000;
/** Load before the first window: JIT, sockets, NATS subscriptions, the first rounds. */
const WARMUP_MS = 2_000;
/** Distinct refusal messages kept per mode, to say how a mode failed. */
const KEPT_ERRORS = 3;

/**
 * Figure 7b: what bounds a whole cluster, whatever the gateways add: every push (async) and every
 * round (sync, local) goes through the one coordinator process. Per mode, a fresh cluster (figure
 * 7's processes), `clients` simulated volunteers split over two gateways, each doing what a worker
 * does (pull, then push what the mode wants: a gradient, or a local change of the plan's steps) back
 * to back; over each window, the coordinator's CPU time (/proc/<pid>/stat) divided by the pushes and
 * rounds its /api/status counted. A rounds mode that fails through gateways is measured again with
 * the clients on the coordinator's own URL, and the row says so and how it failed.
 */
export async function measureCoordinatorCost(
  settings: BenchSettings,
  log: Log,
): Promise<CoordinatorCostResult> {
  const rows: CoordinatorCostRow[] = [];
  for (const mode of MODES) {
    let row = await measureMode(mode, 'gateways', settings, log);
    if (mode !== 'async' && (row.error !== undefined || !row.cpuMsPerRound)) {
      const failure = row.error ?? `no round closed; refusals: ${row.errorExamples.join('; ') || 'none'}`;
      log(`  ${mode} through gateways failed (${failure}); again with the clients on the coordinator`);
      row = { ...(await measureMode(mode, 'coordinator', settings, log)), gatewayFailure: failure };
    }
    rows.push(row);
  }
  const { clients, seconds, reps } = settings.coordinatorCost;
  return { model: 'cnn', shards: BENCH_CLUSTER_SHARDS, gateways: GATEWAYS, clients, seconds, reps, rows };
}

async function measureMode(
  mode: Mode,
  via: 'gateways' | 'coordinator',
  settings: BenchSettings,
  log: Log,
): Promise<CoordinatorCostRow> {
  const { clients: count, seconds, reps } = settings.coordinatorCost;
  const empty = { mode, via, gatewayFailure: null, errors: 0, errorExamples: [], samples: [] };
  let cluster: BenchCluster | null = null;
  const clients: HubClient[] = [];
  let stopping = false;
  try {
    // Local changes as float32: encoding fp16 in JavaScript (~10 ms a cnn change) made the bench's
    // own clients, not the coordinator, what bounded the load on these cores.
    const flags = mode === 'local' ? ['--compress-changes', 'none'] : [];
    cluster = await startBenchCluster(mode, GATEWAYS, flags);
    const { coordinator } = cluster;
    const pid = coordinator.child.pid!;
    const status = async () => (await (await fetch(`${coordinator.url}/api/status`)).json()) as HubStatus;
    const idleStart = processCpuMs(pid);
    await sleep(IDLE_MS);
    const idleCores = (processCpuMs(pid) - idleStart) / IDLE_MS;

    const urls = via === 'gateways' ? cluster.gateways.map((g) => g.url) : [coordinator.url];
    // Every client registers before the first pull, so that every round waits for all of them.
    for (let i = 0; i < count; i++) {
      clients.push(
        await HubClient.connect({
          url: urls[i % urls.length],
          backend: 'bench-coordinator',
          ackTimeoutMs: 30_000,
        }),
      );
    }
    const gradient = testGradient(clients[0].config.params, 5);
    // A local change the size of a few inner steps' drift, so that the outer step keeps the weights sane.
    const change = gradient.map((x) => x * 1e-3);
    let errors = 0;
    const errorExamples = new Set<string>();
    const step = async (client: HubClient): Promise<void> => {
      const pulled = await client.pull();
      const local = pulled.local;
      await client.push({
        gradient: local ? change : gradient,
        versions: pulled.versions,
        ...(pulled.round === undefined ? {} : { round: pulled.round }),
        ...(local ? { localSteps: local.steps } : {}),
        examples: BATCH * (local?.steps ?? 1),
        loss: 1,
      });
    };
    const loops = clients.map(async (client) => {
      while (!stopping) {
        try {
          await step(client);
        } catch (error) {
          if (stopping) return;
          errors++;
          if (errorExamples.size < KEPT_ERRORS)
            errorExamples.add(error instanceof Error ? error.message : String(error));
        }
      }
    });
    await sleep(WARMUP_MS);
    const samples: CoordinatorCostSample[] = [];
    const kind = mode === 'async' ? null : mode;
    for (let rep = 0; rep < reps; rep++) {
      const before = await status();
      const cpuBefore = processCpuMs(pid);
      const started = performance.now();
      await sleep(seconds * 1000);
      const cpuMs = processCpuMs(pid) - cpuBefore;
      const elapsed = (performance.now() - started) / 1000;
      const after = await status();
      const sample = {
        seconds: elapsed,
        cpuMs,
        pushes: after.pushesAccepted - before.pushesAccepted,
        rounds: kind === null ? null : after.rounds.closed[kind] - before.rounds.closed[kind],
      };
      samples.push(sample);
      log(
        `  ${mode} via ${via}, window ${rep + 1}: ${sample.pushes} pushes, ${sample.rounds ?? '-'} rounds, ` +
          `coordinator ${cpuMs.toFixed(0)} ms CPU in ${elapsed.toFixed(1)} s`,
      );
    }
    stopping = true;
    // Closing the clients ends the pulls and pushes waiting for a round; their refusals are not counted.
    for (const client of clients.splice(0)) client.close();
    await Promise.all(loops);
    const per = (pick: (s: CoordinatorCostSample) => number | null) => {
      const values = samples.map(pick).filter((v): v is number => v !== null && Number.isFinite(v));
      return values.length > 0 ? median(values) : null;
    };
    return {
      ...empty,
      cpuMsPerPush: per((s) => ratio(s.cpuMs, s.pushes)),
      cpuMsPerRound: kind === null ? null : per((s) => ratio(s.cpuMs, s.rounds)),
      pushesPerSec: per((s) => s.pushes / s.seconds),
      roundsPerSec: kind === null ? null : per((s) => (s.rounds === null ? null : s.rounds / s.seconds)),
      coordinatorCores: per((s) => s.cpuMs / (s.seconds * 1000)),
      idleCores,
      samples,
      errors,
      errorExamples: [...errorExamples],
    };
  } catch (error) {
    return {
      ...empty,
      cpuMsPerPush: null,
      cpuMsPerRound: null,
      pushesPerSec: null,
      roundsPerSec: null,
      coordinatorCores: null,
      idleCores: null,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    stopping = true;
    for (const client of clients) client.close();
    await cluster?.close();
  }
}
