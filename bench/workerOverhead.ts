import type { RunningHub } from '../server/startHub.js';
import { SETTLE_AFTER_OPEN_MS, type BenchBrowser, type LocalPageSettings } from './browser.js';
import { startBenchHub, using } from './hubs.js';
import type { Log } from './log.js';
import type { WorkerOverheadResult } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio, sleep, waitFor } from './stats.js';

/** How long an arm may take to train its first step after it was (re)started. */
const FIRST_STEP_TIMEOUT_MS = 60_000;
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

/** One arm of the comparison: a tab that can be started and paused, and counts its examples. */
interface Arm {
  start(): Promise<void>;
  pause(): Promise<void>;
  examples(): Promise<number>;
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
        const hubArm: Arm = {
          start: () => workerTab.resume(),
          pause: () => workerTab.pause(),
          examples: async () => (await workerTab.status()).examples,
        };
        const localArm: Arm = {
          start: () => localTab.start(false),
          pause: () => localTab.pause(),
          examples: async () => (await localTab.status()).examples,
        };
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
          for (const [arm, samples] of order) samples.push(await examplesPerSecond(arm, settings));
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

/** Starts the arm, waits for its first step and the warm-up, counts examples over the window, pauses it. */
async function examplesPerSecond(arm: Arm, settings: BenchSettings): Promise<number> {
  const { warmupSeconds, seconds } = settings.workerOverhead;
  const before = await arm.examples();
  await arm.start();
  try {
    await waitFor(
      'the first step',
      async () => ((await arm.examples()) > before ? true : undefined),
      FIRST_STEP_TIMEOUT_MS,
      50,
    );
    await sleep(warmupSeconds * 1000);
    const first = { examples: await arm.examples(), at: performance.now() };
    await sleep(seconds * 1000);
    const last = { examples: await arm.examples(), at: performance.now() };
    return ((last.examples - first.examples) * 1000) / (last.at - first.at);
  } finally {
    await arm.pause();
    await sleep(SETTLE_MS);
  }
}
