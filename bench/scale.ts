import { Evaluator } from '../server/evaluation/Evaluator.js';
import { SETTLE_AFTER_OPEN_MS, type BenchBrowser, type WorkerTab } from './browser.js';
import { ChildServer } from './ChildServer.js';
import { startBenchHub, using } from './hubs.js';
import { addTraffic, HOME_LINK, type RelayTraffic } from './LinkRelay.js';
import type { Log } from './log.js';
import type {
  ScaleAccuracyRow,
  ScaleEfficiency,
  ScaleEfficiencyRow,
  ScaleResult,
  ScaleTimeToAccuracy,
  ScaleWire,
  ScaleWireRow,
} from './results.js';
import type { BenchSettings } from './settings.js';
import { SCALE_MODES, type ScaleMode } from './scaleModes.js';
import { median, ratio, sleep } from './stats.js';
import {
  describe,
  summarise,
  trainAlone,
  trainThroughHub,
  type ArmRun,
  type HubArmRun,
  type TargetSettings,
} from './timeToAccuracy.js';
import {
  examplesPerSecond,
  localSettingsFor,
  localTabArm,
  workerTabArm,
  type Arm,
} from './workerOverhead.js';

const MODEL = 'cnn';
const LINK = HOME_LINK;

/**
 * Figure 8 (issue 13): whether volunteers make training faster past these 2 cores and past loopback,
 * per mode, each figure a ratio of two arms measured in this run.
 * (a) efficiency: one full-speed tab's examples/s through the hub, on loopback and behind a home
 *     link, over the same tab training alone (figure 3's arms and window);
 * (b) time to the target for N throttled tabs, each behind a home link of its own, over one tab
 *     alone throttled the same way (figure 4's arms and measurement);
 * (c) wire bytes per example: what crossed (b)'s relays while training over the examples accepted.
 * A part or an arm that fails is recorded in `errors`; the rest still runs.
 */
export async function measureScale(
  browser: BenchBrowser,
  backend: string,
  modes: readonly ScaleMode[],
  settings: BenchSettings,
  log: Log,
): Promise<ScaleResult> {
  const errors: Record<string, string> = {};
  let chosen = backend;
  let efficiency: ScaleEfficiency | null = null;
  try {
    const measured = await measureEfficiency(browser, backend, modes, settings, log, errors);
    efficiency = measured.result;
    chosen = measured.backend;
  } catch (error) {
    errors.efficiency = messageOf(error);
    log(`  efficiency failed: ${errors.efficiency}`);
  }
  let accuracy: { result: ScaleTimeToAccuracy; wire: ScaleWire } | null = null;
  try {
    // No numbers of tabs (`--scale-tabs 0`): (a) alone.
    if (settings.scale.tabs.length > 0) {
      accuracy = await measureTimeToAccuracy(browser, chosen, modes, settings, log, errors);
    }
  } catch (error) {
    errors.timeToAccuracy = messageOf(error);
    log(`  time to accuracy failed: ${errors.timeToAccuracy}`);
  }
  const { scale } = settings;
  return {
    model: MODEL,
    backend: chosen,
    link: LINK,
    cpuThrottle: scale.cpuThrottle,
    modes,
    efficiency,
    timeToAccuracy: accuracy?.result ?? null,
    wire: accuracy?.wire ?? null,
    errors,
    note:
      settings.mode === 'quick'
        ? `--quick: ${scale.tabs.join(', ')} tab(s), target ${scale.target} instead of 0.97`
        : undefined,
  };
}

/** One mode's pair of worker tabs for (a): one on loopback, one behind a home link. */
interface ModeTabs {
  readonly mode: ScaleMode;
  readonly loopback: Arm;
  readonly link: Arm;
  readonly loopbackSamples: number[];
  readonly linkSamples: number[];
  error?: string;
}

/**
 * (a): the lone tab (the local page, on a hub of its own that only serves its origin and examples)
 * and, per mode, a hub with two full-speed worker tabs, one straight on it and one behind a home
 * link. Everything opens first (each tab paused once its backend is chosen); then each repetition
 * runs every arm alone, in turns, the order reversed every other repetition.
 */
async function measureEfficiency(
  browser: BenchBrowser,
  backend: string,
  modes: readonly ScaleMode[],
  settings: BenchSettings,
  log: Log,
  errors: Record<string, string>,
): Promise<{ result: ScaleEfficiency; backend: string }> {
  const { reps, warmupSeconds, seconds } = settings.scale.efficiency;
  const opened: { close(): Promise<void> }[] = [];
  try {
    let chosen = backend;
    const tabsOf: ModeTabs[] = [];
    for (const mode of modes) {
      try {
        const hub = await startBenchHub({ model: MODEL, ...SCALE_MODES[mode] });
        opened.push(hub);
        const relay = await ChildServer.relay(hub.url, LINK);
        opened.push(relay);
        const loopback = await openTab(browser, hub.url, chosen, opened);
        // The first tab's auto choice (a probe) is every later tab's backend.
        if (chosen === 'auto') chosen = (await loopback.status()).backend ?? 'auto';
        const link = await openTab(browser, relay.url, chosen, opened);
        tabsOf.push({
          mode,
          loopback: workerTabArm(loopback),
          link: workerTabArm(link),
          loopbackSamples: [],
          linkSamples: [],
        });
      } catch (error) {
        errors[`efficiency, ${mode}`] = messageOf(error);
        log(`  efficiency, ${mode}: could not open: ${messageOf(error)}`);
      }
    }
    const originHub = await startBenchHub({ model: MODEL });
    opened.push(originHub);
    const localTab = await browser.openLocalTab(originHub.url, localSettingsFor(originHub, chosen));
    opened.push(localTab);
    await sleep(SETTLE_AFTER_OPEN_MS);
    log(`  efficiency: backend ${chosen}; ${LINK.name} link ${linkText()}`);

    const alone = localTabArm(localTab);
    const aloneSamples: number[] = [];
    const window = { warmupSeconds, seconds };
    for (let rep = 0; rep < reps; rep++) {
      type Turn = { what: string; run: () => Promise<void> };
      const turns: Turn[] = [
        { what: 'alone', run: async () => void aloneSamples.push(await examplesPerSecond(alone, window)) },
      ];
      for (const tabs of tabsOf) {
        const turn = (what: 'loopback' | 'link'): Turn => ({
          what: `${tabs.mode}, ${what}`,
          run: async () => {
            if (tabs.error !== undefined) return;
            try {
              const samples = what === 'loopback' ? tabs.loopbackSamples : tabs.linkSamples;
              samples.push(await examplesPerSecond(tabs[what], window));
            } catch (error) {
              tabs.error = messageOf(error);
              errors[`efficiency, ${tabs.mode}`] = tabs.error;
            }
          },
        });
        turns.push(turn('loopback'), turn('link'));
      }
      for (const turn of rep % 2 === 0 ? turns : turns.reverse()) await turn.run();
      log(
        `  efficiency repetition ${rep + 1}: alone ${aloneSamples.at(-1)?.toFixed(0)} examples/s; ` +
          tabsOf
            .map(
              (t) =>
                `${t.mode} loopback ${t.loopbackSamples.at(-1)?.toFixed(0) ?? '-'}, ` +
                `link ${t.linkSamples.at(-1)?.toFixed(0) ?? '-'}`,
            )
            .join('; '),
      );
    }
    const aloneRate = median(aloneSamples);
    const rows: ScaleEfficiencyRow[] = modes.map((mode) => {
      const tabs = tabsOf.find((t) => t.mode === mode);
      const rate = (samples: readonly number[] | undefined) =>
        samples !== undefined && samples.length > 0 ? median(samples) : null;
      const loopbackRate = rate(tabs?.loopbackSamples);
      const linkRate = rate(tabs?.linkSamples);
      return {
        mode,
        loopbackExamplesPerSec: loopbackRate,
        linkExamplesPerSec: linkRate,
        loopbackRatio: ratio(loopbackRate, aloneRate),
        linkRatio: ratio(linkRate, aloneRate),
        loopbackSamples: tabs?.loopbackSamples ?? [],
        linkSamples: tabs?.linkSamples ?? [],
        error: errors[`efficiency, ${mode}`],
      };
    });
    return {
      result: { reps, warmupSeconds, seconds, aloneExamplesPerSec: aloneRate, aloneSamples, rows },
      backend: chosen,
    };
  } finally {
    for (const resource of opened.reverse()) await resource.close();
  }
}

async function openTab(
  browser: BenchBrowser,
  url: string,
  backend: string,
  opened: { close(): Promise<void> }[],
): Promise<WorkerTab> {
  const tab = await browser.openWorkerTab(url, backend);
  opened.push(tab);
  return tab;
}

/** One arm of (b): a mode with a number of throttled tabs on home links. */
interface HubJob {
  readonly mode: ScaleMode;
  readonly tabs: number;
  readonly runs: HubArmRun[];
  error?: string;
}

/**
 * (b) and (c): each repetition trains one throttled tab alone, and every mode with every number of
 * tabs (each throttled, each behind a home link of its own) from fresh weights to the target, the
 * order reversed every other repetition. The lone tab's clock starts when it is told to train; a
 * hub arm's when its paused hub is let go (timeToAccuracy.ts).
 */
async function measureTimeToAccuracy(
  browser: BenchBrowser,
  backend: string,
  modes: readonly ScaleMode[],
  settings: BenchSettings,
  log: Log,
  errors: Record<string, string>,
): Promise<{ result: ScaleTimeToAccuracy; wire: ScaleWire }> {
  const { cpuThrottle, tabs, target, everyExamples, maxSeconds, reps } = settings.scale;
  const targets: TargetSettings = { target, everyExamples, maxSeconds };
  const aloneRuns: ArmRun[] = [];
  const jobs: HubJob[] = modes.flatMap((mode) => tabs.map((n) => ({ mode, tabs: n, runs: [] })));
  const name = (job: HubJob) => `${job.mode}, ${job.tabs} tab${job.tabs === 1 ? '' : 's'}`;
  await using(Evaluator.start({ model: MODEL, testSubset: settings.testExamples }), async (evaluator) => {
    for (let rep = 0; rep < reps; rep++) {
      const turns: (() => Promise<void>)[] = [
        async () => {
          log(`  time to ${target}: 1 tab alone at ${cpuThrottle}x`);
          const run = await trainAlone(browser, { backend, cpuThrottle }, evaluator, targets, log);
          aloneRuns.push(run);
          log(`  alone: ${describe(run)}`);
        },
        ...jobs.map((job) => async () => {
          if (job.error !== undefined) return;
          log(`  time to ${target}: ${name(job)} at ${cpuThrottle}x, each on a ${LINK.name} link`);
          try {
            const setup = {
              tabs: job.tabs,
              backend,
              hub: SCALE_MODES[job.mode],
              link: LINK,
              cpuThrottle,
            };
            const run = await trainThroughHub(browser, setup, targets, settings.testExamples, log);
            job.runs.push(run);
            log(`  ${name(job)}: ${describe(run)}; relays at most ${run.lateness?.maxMs.toFixed(0)} ms late`);
          } catch (error) {
            job.error = messageOf(error);
            errors[name(job)] = job.error;
            log(`  ${name(job)} failed: ${job.error}`);
          }
        }),
      ];
      for (const turn of rep % 2 === 0 ? turns : turns.reverse()) await turn();
    }
  });
  const alone = summarise(aloneRuns);
  const rows: ScaleAccuracyRow[] = jobs.map((job) => {
    const hub = job.runs.length > 0 ? summarise(job.runs) : null;
    const late = job.runs.flatMap((r) => (r.lateness ? [r.lateness] : []));
    const chunks = late.reduce((n, l) => n + l.chunks, 0);
    return {
      mode: job.mode,
      tabs: job.tabs,
      hub,
      ratio: ratio(hub?.seconds ?? null, alone.seconds),
      ratioBound: boundOf(hub?.seconds ?? null, alone.seconds, maxSeconds, hub !== null),
      relayLateMeanMs: chunks > 0 ? late.reduce((n, l) => n + l.meanMs * l.chunks, 0) / chunks : null,
      relayLateMaxMs: late.length > 0 ? Math.max(...late.map((l) => l.maxMs)) : null,
      error: job.error,
    };
  });
  return {
    result: { target, testExamples: settings.testExamples, maxSeconds, alone, rows },
    wire: wireOf(modes, jobs),
  };
}

/** The side of 1 the ratio hub/alone is known to be on when only one arm reached the target in time. */
function boundOf(
  hub: number | null,
  alone: number | null,
  maxSeconds: number,
  ran: boolean,
): ScaleAccuracyRow['ratioBound'] {
  if (!ran) return null;
  if (hub === null && alone !== null) return { side: 'above', value: maxSeconds / alone };
  if (hub !== null && alone === null) return { side: 'below', value: hub / maxSeconds };
  return null;
}

/** (c): per mode, everything that crossed its runs' relays while training, per example accepted. */
function wireOf(modes: readonly ScaleMode[], jobs: readonly HubJob[]): ScaleWire {
  const rows: ScaleWireRow[] = modes.map((mode) => {
    const runs = jobs.filter((j) => j.mode === mode).flatMap((j) => j.runs);
    const traffic = runs.flatMap((r) => (r.traffic ? [r.traffic] : [])).reduce(addTraffic, NO_TRAFFIC);
    const examples = runs.reduce((n, r) => n + r.examplesAtEnd, 0);
    const per = (bytes: number) => (examples > 0 ? bytes / examples : null);
    return {
      mode,
      examples,
      websocket: traffic.websocket,
      http: traffic.http,
      exchangeBytesPerExample: per(traffic.websocket.up + traffic.websocket.down),
      dataBytesPerExample: per(traffic.http.up + traffic.http.down),
      totalBytesPerExample: per(traffic.up + traffic.down),
    };
  });
  const of = (mode: ScaleMode) => rows.find((r) => r.mode === mode);
  return {
    rows,
    localOverAsync: {
      exchange: ratio(
        of('local')?.exchangeBytesPerExample ?? null,
        of('async')?.exchangeBytesPerExample ?? null,
      ),
      total: ratio(of('local')?.totalBytesPerExample ?? null, of('async')?.totalBytesPerExample ?? null),
    },
  };
}

const NO_TRAFFIC: RelayTraffic = { up: 0, down: 0, websocket: { up: 0, down: 0 }, http: { up: 0, down: 0 } };

function linkText(): string {
  return `(${LINK.rttMs} ms RTT, ${LINK.upBitsPerSec / 1e6} Mbit/s up, ${LINK.downBitsPerSec / 1e6} down)`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
