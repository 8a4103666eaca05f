import type { RunningHub } from '../server/startHub.js';
import {
  SETTLE_AFTER_OPEN_MS,
  type BenchBrowser,
  type LocalPageSettings,
  type LocalTab,
  type WorkerTab,
} from './browser.js';
import { startBenchHub, using } from './hubs.js';
import type { Log } from './log.js';
import type { WorkerOverheadResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio, sleep, waitFor } from './stats.js';

/** How long an arm may take to train a step (a local-mode round is 50) after it was (re)started. */
const STEP_TIMEOUT_MS = 60_000;
/** After a pause, the step in flight finishes before the other arm starts. */
const SETTLE_MS = 500;

/** The local page's settings for a hub: the same model, batch, optimizer, rate and unit size. */
export function localSettingsFor(hub: RunningHub, backend: string): LocalPageSettings {
  const { options } = hub.hub;
  return {
    backend,
    model: options.model,
    batch: options.batchSize,
    optimizer: options.optimizer,
    lr: options.learningRate,
    unit: options.unitSize,
    seed: options.seed,
  };
}

/** One arm of a comparison: a tab that can be started and paused, and counts its examples. */
export interface Arm {
  start(): Promise<void>;
  pause(): Promise<void>;
  examples(): Promise<number>;
}

/** A worker tab as an arm: resume joins the hub, pause leaves it; examples the hub accepted from it. */
export function workerTabArm(tab: WorkerTab): Arm {
  return {
    start: () => tab.resume(),
    pause: () => tab.pause(),
    examples: async () => (await tab.status()).examples,
  };
}

/** The local page as an arm: it goes on from its weights (no fresh start) each time. */
export function localTabArm(tab: LocalTab): Arm {
  return {
    start: () => tab.start(false),
    pause: () => tab.pause(),
    examples: async () => (await tab.status()).examples,
  };
}

/**
 * Examples/s of one Chromium tab (auto backend) training cnn through the hub, against a tab of the
 * same browser training the same model locally (same batch), in turns: each repetition runs one arm
 * alone (the other paused) and counts the examples it trained on over a fixed window after warm-up.
 */
export async function measureWorkerOverhead(
  browser: BenchBrowser,
  settings: BenchSettings,
  log: Log,
): Promise<WorkerOverheadResult> {
  return using(startBenchHub({ model: 'cnn' }), async (hub) => {
    // One after the other, so that the two probes do not share the cores.
    const workerTab = await browser.openWorkerTab(hub.url, 'auto');
    try {
      const localTab = await browser.openLocalTab(hub.url, localSettingsFor(hub, 'auto'));
      try {
        await sleep(SETTLE_AFTER_OPEN_MS);
        const workerView = await workerTab.status();
        const localView = await localTab.status();
        log(`  worker tab: ${workerView.backendDetail}; local tab: ${localView.backendDetail}`);
        const hubArm = workerTabArm(workerTab);
        const localArm = localTabArm(localTab);
        const hubSamples: number[] = [];
        const localSamples: number[] = [];
        for (let rep = 0; rep < settings.workerOverhead.reps; rep++) {
          const order: [Arm, number[]][] =
            rep % 2 === 0
              ? [
                  [hubArm, hubSamples],
                  [localArm, localSamples],
                ]
              : [
                  [localArm, localSamples],
                  [hubArm, hubSamples],
                ];
          for (const [arm, samples] of order) {
            samples.push(await examplesPerSecond(arm, settings.workerOverhead));
          }
          log(
            `  repetition ${rep + 1}: hub ${hubSamples.at(-1)!.toFixed(0)} examples/s, local ${localSamples.at(-1)!.toFixed(0)} examples/s`,
          );
        }
        const hubRate = median(hubSamples);
        const localRate = median(localSamples);
        return {
          model: hub.hub.options.model,
          batchSize: hub.hub.options.batchSize,
          chosenBackend: workerView.backend ?? 'auto',
          hubBackend: workerView.backendDetail ?? workerView.backend ?? '?',
          localBackend: localView.backendDetail ?? localView.backend ?? '?',
          hubExamplesPerSec: hubRate,
          localExamplesPerSec: localRate,
          ratio: ratio(hubRate, localRate),
          hubSamples,
          localSamples,
        };
      } finally {
        await localTab.close();
      }
    } finally {
      await workerTab.close();
    }
  });
}

/** How an arm's examples/s is measured: after its first step and a warm-up, over a window. */
export interface RateWindow {
  readonly warmupSeconds: number;
  readonly seconds: number;
}

/**
 * Starts the arm, waits for its first step and the warm-up, counts examples over the window, pauses it.
 * The window opens and closes on a step (the first increase of the count after the warm-up, and the
 * first after `seconds`): an arm whose count moves in big steps, like a local-mode worker's once per
 * round of 50 inner steps, is measured from one step to another, not by where a fixed window falls.
 */
export async function examplesPerSecond(arm: Arm, { warmupSeconds, seconds }: RateWindow): Promise<number> {
  const before = await arm.examples();
  await arm.start();
  try {
    await nextStep(arm, before, 'the first step');
    await sleep(warmupSeconds * 1000);
    const first = await nextStep(arm, await arm.examples(), 'a step after the warm-up');
    await sleep(seconds * 1000);
    const last = await nextStep(arm, await arm.examples(), 'a step after the window');
    return ((last.examples - first.examples) * 1000) / (last.at - first.at);
  } finally {
    await arm.pause();
    await sleep(SETTLE_MS);
  }
}

/** Waits until the arm has trained past `after` examples; when (polled every 20 ms) and how many. */
function nextStep(arm: Arm, after: number, what: string): Promise<{ examples: number; at: number }> {
  return waitFor(
    what,
    async () => {
      const examples = await arm.examples();
      return examples > after ? { examples, at: performance.now() } : undefined;
    },
    STEP_TIMEOUT_MS,
    20,
  );
}
