import { Evaluator } from '../server/evaluation/Evaluator.js';
import type { RunningHub } from '../server/startHub.js';
import { SETTLE_AFTER_OPEN_MS, type BenchBrowser, type WorkerTab } from './browser.js';
import { startBenchHub, using } from './hubs.js';
import type { Log } from './log.js';
import type { AccuracyArm, TimeToAccuracyResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio, sleep, waitFor } from './stats.js';
import { localSettingsFor } from './workerOverhead.js';

const HUB_TABS = 2;
const POLL_MS = 100;

/** One arm's run: when (s after its start) and after how many examples it first measured >= target. */
interface ArmRun {
  readonly seconds: number | null;
  readonly examples: number | null;
  /** The best test accuracy it measured. */
  readonly best: number;
}

/** A consistent snapshot of an arm's weights, measured on the test set. */
type MeasureNow = () => Promise<{ examples: number; accuracy: number }>;

/**
 * Wall time to the target test accuracy: two tabs through the hub against one tab training locally,
 * in turns, each repetition from fresh weights. The clock of an arm starts when its tabs are told to
 * train (backends already chosen, pages loaded), so it covers joining, fetching data and training.
 * Both arms are measured the same way: every `everyExamples` examples a snapshot of the weights is
 * taken (its time is the one recorded) and evaluated on the same test examples in an evaluation
 * thread, while training goes on.
 *
 * The tabs use the backend that an auto probe picks (`backend`, from the worker overhead phase or a
 * probe here), forced, so that each repetition does not probe again.
 */
export async function measureTimeToAccuracy(
  browser: BenchBrowser,
  backend: string,
  settings: BenchSettings,
  log: Log,
): Promise<TimeToAccuracyResult> {
  const { target, reps } = settings.timeToAccuracy;
  const hubRuns: ArmRun[] = [];
  const localRuns: ArmRun[] = [];
  await using(Evaluator.start({ model: 'cnn', testSubset: settings.testExamples }), async (evaluator) => {
    for (let rep = 0; rep < reps; rep++) {
      const arms = [
        async () => hubRuns.push(await hubArm(browser, backend, settings, log)),
        async () => localRuns.push(await localArm(browser, backend, evaluator, settings, log)),
      ];
      for (const arm of rep % 2 === 0 ? arms : arms.reverse()) await arm();
      log(`  repetition ${rep + 1}: hub ${describe(hubRuns.at(-1)!)}, local ${describe(localRuns.at(-1)!)}`);
    }
  });
  const hub = summarise(hubRuns);
  const local = summarise(localRuns);
  return {
    target,
    testExamples: settings.testExamples,
    backend,
    hubTabs: HUB_TABS,
    hub,
    local,
    ratio: ratio(hub.seconds, local.seconds),
    note:
      settings.mode === 'quick'
        ? `--quick: target ${target} instead of 0.97, ${reps} repetition(s)`
        : undefined,
  };
}

async function hubArm(
  browser: BenchBrowser,
  backend: string,
  settings: BenchSettings,
  log: Log,
): Promise<ArmRun> {
  return using(startBenchHub({ model: 'cnn', evalExamples: settings.testExamples }), async (hub) => {
    // Paused until every tab is ready: no gradient is applied before the clock starts.
    hub.hub.coordinator.setPaused(true);
    const tabs: WorkerTab[] = [];
    try {
      for (let i = 0; i < HUB_TABS; i++) tabs.push(await browser.openWorkerTab(hub.url, backend));
      await sleep(SETTLE_AFTER_OPEN_MS);
      hub.hub.coordinator.setPaused(false);
      const started = performance.now();
      await Promise.all(tabs.map((tab) => tab.resume()));
      return await trainToTarget(started, hubMeasure(hub), hubExamples(hub), settings, log);
    } finally {
      for (const tab of tabs) await tab.close();
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
  // A hub only for the page's origin and its examples route; nothing joins it.
  return using(startBenchHub({ model: 'cnn' }), async (hub) => {
    const tab = await browser.openLocalTab(hub.url, localSettingsFor(hub, backend));
    try {
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
        settings,
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
 * Measures the arm each `everyExamples` examples until a measurement reaches the target or the time
 * runs out. The time recorded for a measurement is when its snapshot was asked for.
 */
async function trainToTarget(
  started: number,
  measure: MeasureNow,
  examples: () => Promise<number>,
  settings: BenchSettings,
  log: Log,
): Promise<ArmRun> {
  const { target, everyExamples, maxSeconds } = settings.timeToAccuracy;
  let next = everyExamples;
  let best = 0;
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
    if (measured.accuracy >= target) return { seconds: at, examples: measured.examples, best };
    next = measured.examples + everyExamples;
    await sleep(0);
  }
}

function summarise(runs: readonly ArmRun[]): AccuracyArm {
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

function describe(run: ArmRun): string {
  return run.seconds === null
    ? `not reached (best ${run.best.toFixed(4)})`
    : `${run.seconds.toFixed(1)} s, ${run.examples} examples`;
}
