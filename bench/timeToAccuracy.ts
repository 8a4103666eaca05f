import { Evaluator } from '../server/evaluation/Evaluator.js';
import type { HubOptions } from '../server/options.js';
import type { RunningHub } from '../server/startHub.js';
import { SETTLE_AFTER_OPEN_MS, type BenchBrowser, type WorkerTab } from './browser.js';
import { startBenchHub, using } from './hubs.js';
import { ChildServer } from './ChildServer.js';
import {
  addTraffic,
  subtractTraffic,
  type LinkProfile,
  type RelayLateness,
  type RelayTraffic,
} from './LinkRelay.js';
import type { Log } from './log.js';
import type { AccuracyArm, TimeToAccuracyResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio, sleep, waitFor } from './stats.js';
import { localSettingsFor } from './workerOverhead.js';
import { SCALE_MODES, type ScaleMode } from './scaleModes.js';

const HUB_TABS = 2;
const POLL_MS = 100;

/** What an arm trains to, and how often it is measured. */
export interface TargetSettings {
  readonly target: number;
  /** Test accuracy is measured each time the arm has trained on this many more examples. */
  readonly everyExamples: number;
  /** An arm that has not reached the target by then counts as not reached. */
  readonly maxSeconds: number;
}

/** One arm's run: when (s after its start) and after how many examples it first measured >= target. */
export interface ArmRun {
  readonly seconds: number | null;
  readonly examples: number | null;
  /** The best test accuracy it measured. */
  readonly best: number;
}

/** A consistent snapshot of an arm's weights, measured on the test set. */
type MeasureNow = () => Promise<{ examples: number; accuracy: number }>;

/**
 * Wall time to the target test accuracy: two tabs through a hub of each mode against one tab training
 * locally, in turns, each repetition from fresh weights. The clock of an arm starts when its tabs are
 * told to train (backends already chosen, pages loaded), so it covers joining, fetching data and
 * training. Every arm is measured the same way: every `everyExamples` examples a snapshot of the
 * weights is taken (its time is the one recorded) and evaluated on the same test examples in an
 * evaluation thread, while training goes on; the target counts once two snapshots in a row meet it.
 *
 * The tabs use the backend that an auto probe picks (`backend`, from the worker overhead phase or a
 * probe here), forced, so that each repetition does not probe again.
 */
export async function measureTimeToAccuracy(
  browser: BenchBrowser,
  backend: string,
  modes: readonly ScaleMode[],
  settings: BenchSettings,
  log: Log,
): Promise<TimeToAccuracyResult> {
  const { target, reps } = settings.timeToAccuracy;
  const hubRuns = new Map<ScaleMode, ArmRun[]>(modes.map((mode) => [mode, []]));
  const localRuns: ArmRun[] = [];
  await using(Evaluator.start({ model: 'cnn', testSubset: settings.testExamples }), async (evaluator) => {
    for (let rep = 0; rep < reps; rep++) {
      const arms = [
        ...modes.map((mode) => async () => {
          const run = await hubArm(browser, backend, mode, settings, log);
          hubRuns.get(mode)!.push(run);
          return `${mode} ${describe(run)}`;
        }),
        async () => {
          const run = await localArm(browser, backend, evaluator, settings, log);
          localRuns.push(run);
          return `local tab ${describe(run)}`;
        },
      ];
      const said: string[] = [];
      for (const arm of rep % 2 === 0 ? arms : arms.reverse()) said.push(await arm());
      log(`  repetition ${rep + 1}: ${said.join('; ')}`);
    }
  });
  const local = summarise(localRuns);
  return {
    target,
    testExamples: settings.testExamples,
    backend,
    hubTabs: HUB_TABS,
    hubs: modes.map((mode) => {
      const hub = summarise(hubRuns.get(mode)!);
      return { mode, hub, ratio: ratio(hub.seconds, local.seconds) };
    }),
    local,
    note:
      settings.mode === 'quick'
        ? `--quick: target ${target} instead of 0.97, ${reps} repetition(s)`
        : undefined,
  };
}

async function hubArm(
  browser: BenchBrowser,
  backend: string,
  mode: ScaleMode,
  settings: BenchSettings,
  log: Log,
): Promise<ArmRun> {
  const setup: HubArmSetup = { tabs: HUB_TABS, backend, hub: SCALE_MODES[mode] };
  return trainThroughHub(browser, setup, settings.timeToAccuracy, settings.testExamples, log);
}

/** How the tabs of a hub arm are set up. */
export interface HubArmSetup {
  readonly tabs: number;
  /** Forced in every tab (`auto` would probe in each). */
  readonly backend: string;
  /** On top of the bench hub's (cnn, the test examples): the mode and its options. */
  readonly hub?: Partial<HubOptions>;
  /** Each tab behind a relay of its own with this link (one volunteer each); none: loopback. */
  readonly link?: LinkProfile;
  /** Each tab's DevTools CPU throttling rate, set once it is open (1 or none: full speed). */
  readonly cpuThrottle?: number;
}

/** A hub arm's run, and what crossed the tabs' links while it trained. */
export interface HubArmRun extends ArmRun {
  /** From the start of training to the end of the run, all tabs' relays together; null on loopback. */
  readonly traffic: RelayTraffic | null;
  /** Examples the hub had accepted at the end of the run (what `traffic` paid for). */
  readonly examplesAtEnd: number;
  /** The relays' worst lateness against their links' schedule; null on loopback. */
  readonly lateness: RelayLateness | null;
}

/**
 * Trains a fresh hub (new random weights) with `setup.tabs` worker tabs to the target. The hub is
 * paused until every tab has loaded and chosen its backend (and been throttled); then the clock
 * starts and they all join. Page loads do not count in `traffic`; joining, examples, pulls and
 * pushes do.
 */
export async function trainThroughHub(
  browser: BenchBrowser,
  setup: HubArmSetup,
  targets: TargetSettings,
  testExamples: number,
  log: Log,
): Promise<HubArmRun> {
  const options: Partial<HubOptions> = { model: 'cnn', evalExamples: testExamples, ...setup.hub };
  return using(startBenchHub(options), async (hub) => {
    // Paused until every tab is ready: no gradient is applied before the clock starts.
    hub.hub.coordinator.setPaused(true);
    const relays: ChildServer[] = [];
    const tabs: WorkerTab[] = [];
    try {
      for (let i = 0; i < setup.tabs; i++) {
        const relay = setup.link ? await ChildServer.relay(hub.url, setup.link) : null;
        if (relay !== null) relays.push(relay);
        const tab = await browser.openWorkerTab(relay?.url ?? hub.url, setup.backend);
        tabs.push(tab);
        if ((setup.cpuThrottle ?? 1) > 1) await tab.throttleCpu(setup.cpuThrottle!);
      }
      await sleep(SETTLE_AFTER_OPEN_MS);
      const before = await Promise.all(relays.map((relay) => relay.relayState()));
      hub.hub.coordinator.setPaused(false);
      const started = performance.now();
      await Promise.all(tabs.map((tab) => tab.resume()));
      const run = await trainToTarget(started, hubMeasure(hub), hubExamples(hub), targets, log);
      const examplesAtEnd = hub.hub.coordinator.status().examplesSeen;
      const after = await Promise.all(relays.map((relay) => relay.relayState()));
      const traffic =
        relays.length === 0
          ? null
          : after.map((state, i) => subtractTraffic(state.traffic, before[i].traffic)).reduce(addTraffic);
      const lateness =
        relays.length === 0
          ? null
          : after
              .map((state) => state.lateness)
              .reduce((a, b) => ({
                chunks: a.chunks + b.chunks,
                meanMs: (a.meanMs * a.chunks + b.meanMs * b.chunks) / Math.max(1, a.chunks + b.chunks),
                maxMs: Math.max(a.maxMs, b.maxMs),
              }));
      return { ...run, traffic, examplesAtEnd, lateness };
    } finally {
      for (const tab of tabs) await tab.close();
      for (const relay of relays) await relay.close();
    }
  });
}

function hubExamples(hub: RunningHub): () => Promise<number> {
  return async () => hub.hub.coordinator.status().examplesSeen;
}

function hubMeasure(hub: RunningHub): MeasureNow {
  return async () => {
    const evaluation = await hub.hub.evaluateNow();
    return { examples: evaluation.examplesSeen, accuracy: evaluation.accuracy };
  };
}

async function localArm(
  browser: BenchBrowser,
  backend: string,
  evaluator: Evaluator,
  settings: BenchSettings,
  log: Log,
): Promise<ArmRun> {
  return trainAlone(browser, { backend }, evaluator, settings.timeToAccuracy, log);
}

/**
 * Trains the local page (one tab, no hub protocol, fresh weights) to the target, throttled like the
 * hub arm's tabs when `cpuThrottle` is set. Its snapshots are measured by `evaluator`.
 */
export async function trainAlone(
  browser: BenchBrowser,
  setup: { readonly backend: string; readonly cpuThrottle?: number },
  evaluator: Evaluator,
  targets: TargetSettings,
  log: Log,
): Promise<ArmRun> {
  // A hub only for the page's origin and its examples route; nothing joins it.
  return using(startBenchHub({ model: 'cnn' }), async (hub) => {
    const tab = await browser.openLocalTab(hub.url, localSettingsFor(hub, setup.backend));
    try {
      if ((setup.cpuThrottle ?? 1) > 1) await tab.throttleCpu(setup.cpuThrottle!);
      await sleep(SETTLE_AFTER_OPEN_MS);
      const started = performance.now();
      await tab.start(true);
      const measure: MeasureNow = async () => {
        const snapshot = await tab.snapshot();
        const result = await evaluator.evaluate(Float32Array.from(snapshot.weights));
        return { examples: snapshot.examples, accuracy: result.accuracy };
      };
      const run = await trainToTarget(
        started,
        measure,
        async () => (await tab.status()).examples,
        targets,
        log,
      );
      await tab.pause();
      return run;
    } finally {
      await tab.close();
    }
  });
}

/**
 * Measures the arm each `everyExamples` examples until two measurements in a row reach the target (a
 * target held, not touched once) or the time runs out. The time and examples recorded are the first
 * of the two: when its snapshot was asked for.
 */
async function trainToTarget(
  started: number,
  measure: MeasureNow,
  examples: () => Promise<number>,
  { target, everyExamples, maxSeconds }: TargetSettings,
  log: Log,
): Promise<ArmRun> {
  let next = everyExamples;
  let best = 0;
  // The first of the latest measurements in a row at or above the target; null after one below it.
  let heldSince: { seconds: number; examples: number } | null = null;
  for (;;) {
    const elapsed = () => (performance.now() - started) / 1000;
    if (elapsed() > maxSeconds) return { seconds: null, examples: null, best };
    await waitFor(
      `${next} examples`,
      async () => ((await examples()) >= next || elapsed() > maxSeconds ? true : undefined),
      maxSeconds * 1000,
      POLL_MS,
    );
    if (elapsed() > maxSeconds) return { seconds: null, examples: null, best };
    const at = elapsed();
    const measured = await measure();
    best = Math.max(best, measured.accuracy);
    log(
      `    ${at.toFixed(1)} s: ${measured.examples} examples, test accuracy ${measured.accuracy.toFixed(4)}`,
    );
    if (measured.accuracy < target) heldSince = null;
    else if (heldSince === null) heldSince = { seconds: at, examples: measured.examples };
    else return { ...heldSince, best };
    next = measured.examples + everyExamples;
    await sleep(0);
  }
}

/** The median run of an arm's repetitions (one that did not reach the target counts as slowest). */
export function summarise(runs: readonly ArmRun[]): AccuracyArm {
  const reached = runs.filter((r) => r.seconds !== null);
  // A run that never reached the target counts as slower than every one that did.
  const seconds = runs.map((r) => r.seconds ?? Infinity);
  const medianSeconds = median(seconds);
  return {
    seconds: Number.isFinite(medianSeconds) ? medianSeconds : null,
    examples: reached.length > 0 ? median(reached.map((r) => r.examples!)) : null,
    reached: reached.length,
    runs: runs.length,
    samples: runs.map((r) => ({ ...r })),
  };
}

export function describe(run: ArmRun): string {
  return run.seconds === null
    ? `not reached (best ${run.best.toFixed(4)})`
    : `${run.seconds.toFixed(1)} s, ${run.examples} examples`;
}
