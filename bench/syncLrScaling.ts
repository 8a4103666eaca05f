import { GradientWorker } from '../shared/GradientWorker.js';
import { HubClient } from '../shared/HubClient.js';
import type { Evaluation } from '../server/evaluation/PeriodicEvaluation.js';
import type { ResolvedSyncLrScaling } from '../server/optimizers/syncLrScaling.js';
import type { OptimizerName } from '../server/optimizers/updateRules.js';
import { withSeededMathRandom } from '../server/testing/seededInit.js';
import { startBenchHub, using } from './hubs.js';
import type { Log } from './log.js';
import type { SyncLrScalingArm, SyncLrScalingResult, SyncLrScalingRow } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, ratio } from './stats.js';

/**
 * The update rules measured, each at its own base rate (one worker's rate: lr x 1 = lr), and the
 * scalings of the rate each is measured with.
 */
const OPTIMIZERS: readonly {
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  readonly scalings: readonly ResolvedSyncLrScaling[];
}[] = [
  // The hub's default; sqrt is the rule proposed for adaptive optimizers.
  { optimizer: 'adam', learningRate: 0.001, scalings: ['linear', 'sqrt', 'none'] },
  // The control: plain SGD, where the linear scaling rule is expected to hold.
  { optimizer: 'sgd', learningRate: 0.02, scalings: ['linear', 'none'] },
];
const MODEL = 'cnn';
const BATCH = 64;
/** Seeds the initial weights of repetition r (INIT_SEED + r): every arm of a repetition starts alike. */
const INIT_SEED = 9;

interface Arm {
  readonly workers: number;
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  readonly scaling: ResolvedSyncLrScaling;
}

/** One run of one arm. */
interface ArmRun {
  /** Test accuracy after the phase's examples. */
  readonly accuracy: number;
  /** The first of two measurements in a row at or above the target; null: not reached. */
  readonly examplesToTarget: number | null;
  /** Sync rounds applied: examples / (batch x workers) when every round had all N gradients. */
  readonly rounds: number;
}

/**
 * Sync mode with N workers, the round's rate scaled by N or not, per optimizer (issue 14, item 9):
 * N headless Node workers (shared/GradientWorker, TF.js wasm) train cnn through a hub in this process
 * for the same number of examples, from the same initial weights in each repetition. The hub measures
 * test accuracy every `everyExamples` and at the end. Arms run in turns, in reversed order every
 * other repetition.
 */
export async function measureSyncLrScaling(settings: BenchSettings, log: Log): Promise<SyncLrScalingResult> {
  const { workers, examples, everyExamples, target, reps } = settings.syncLrScaling;
  const arms: Arm[] = workers.flatMap((n) =>
    OPTIMIZERS.flatMap(({ optimizer, learningRate, scalings }) =>
      scalings.map((scaling) => ({ workers: n, optimizer, learningRate, scaling })),
    ),
  );
  const runs = new Map<Arm, ArmRun[]>(arms.map((arm) => [arm, []]));
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) {
      const run = await trainArm(arm, settings, INIT_SEED + rep, log);
      runs.get(arm)?.push(run);
      log(
        `  ${arm.workers} workers, ${arm.optimizer} ${arm.learningRate} ${arm.scaling}: test accuracy ` +
          `${run.accuracy.toFixed(4)} after ${examples} examples in ${run.rounds} rounds; ${target} held ` +
          `from ${run.examplesToTarget ?? 'never'} (repetition ${rep + 1})`,
      );
    }
  }
  const armRuns = (workers: number, optimizer: OptimizerName, scaling: ResolvedSyncLrScaling) =>
    [...runs].find(
      ([a]) => a.workers === workers && a.optimizer === optimizer && a.scaling === scaling,
    )?.[1] ?? [];
  const rows: SyncLrScalingRow[] = workers.flatMap((n) =>
    OPTIMIZERS.map(({ optimizer, learningRate, scalings }) => {
      const none = summarise(armRuns(n, optimizer, 'none'));
      const scaled = (scaling: ResolvedSyncLrScaling) => {
        if (!scalings.includes(scaling)) return null;
        const arm = summarise(armRuns(n, optimizer, scaling));
        // Error rate, not accuracy: 0.90 against 0.95 is twice the errors, which "0.95x" hides.
        return { ...arm, errorRatioToNone: ratio(1 - arm.accuracy, 1 - none.accuracy) };
      };
      return { workers: n, optimizer, learningRate, none, linear: scaled('linear'), sqrt: scaled('sqrt') };
    }),
  );
  return {
    model: MODEL,
    batchSize: BATCH,
    examples,
    everyExamples,
    target,
    testExamples: settings.testExamples,
    reps,
    rows,
  };
}

function summarise(runs: readonly ArmRun[]): SyncLrScalingArm {
  // A run that never reached the target counts as slower than every one that did.
  const toTarget = median(runs.map((r) => r.examplesToTarget ?? Infinity));
  return {
    accuracy: median(runs.map((r) => r.accuracy)),
    examplesToTarget: Number.isFinite(toTarget) ? toTarget : null,
    rounds: median(runs.map((r) => r.rounds)),
    samples: runs.map((r) => r.accuracy),
  };
}

async function trainArm(arm: Arm, settings: BenchSettings, seed: number, log: Log): Promise<ArmRun> {
  const { examples, everyExamples, target } = settings.syncLrScaling;
  const steps = examples / (BATCH * arm.workers);
  if (!Number.isInteger(steps)) {
    throw new RangeError(`${examples} examples are not whole rounds of ${arm.workers} x ${BATCH}`);
  }
  const hubStarting = withSeededMathRandom(seed, () =>
    startBenchHub({
      mode: 'sync',
      model: MODEL,
      batchSize: BATCH,
      optimizer: arm.optimizer,
      learningRate: arm.learningRate,
      syncLrScaling: arm.scaling,
      evalExamples: settings.testExamples,
    }),
  );
  return using(hubStarting, async (hub) => {
    // Every worker registered before any pulls, so that every round waits for all N gradients.
    const clients = await Promise.all(
      Array.from({ length: arm.workers }, () =>
        HubClient.connect({ url: hub.url, backend: 'wasm', device: 'bench (Node)' }),
      ),
    );
    // Measured while training goes on (the evaluation thread snapshots the weights when asked).
    const measurements: Promise<Evaluation>[] = [];
    let next = everyExamples;
    const onStep = () => {
      if (hub.hub.coordinator.status().examplesSeen < next) return;
      next += everyExamples;
      measurements.push(hub.hub.evaluateNow());
    };
    try {
      await Promise.all(
        clients.map((client) =>
          new GradientWorker({ client, batchSize: BATCH, maxSteps: steps, onStep }).run(),
        ),
      );
    } finally {
      clients.forEach((client) => client.close());
    }
    // A work unit's last batch may be short (the training set is not whole units), so the hub may
    // have applied a few examples fewer than asked for; the same in every arm of a repetition.
    const status = hub.hub.coordinator.status();
    const curve = (await Promise.all(measurements)).sort((a, b) => a.examplesSeen - b.examplesSeen);
    const final = await hub.hub.evaluateNow();
    if (curve.at(-1)?.examplesSeen !== final.examplesSeen) curve.push(final);
    log(`    ${curve.map((e) => `${e.examplesSeen}: ${e.accuracy.toFixed(4)}`).join(', ')}`);
    return { accuracy: final.accuracy, examplesToTarget: heldFrom(curve, target), rounds: status.globalStep };
  });
}

/** The examples of the first of two measurements in a row at or above `target`; null if none. */
function heldFrom(curve: readonly Evaluation[], target: number): number | null {
  for (let i = 0; i + 1 < curve.length; i++) {
    if (curve[i].accuracy >= target && curve[i + 1].accuracy >= target) return curve[i].examplesSeen;
  }
  return null;
}
