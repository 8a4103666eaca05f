/**
 * Local mode in the worker loop: trains a round's weights on this device, pushes the weight change,
 * and keeps training while the change and the next round's weights are on the network. Apart from
 * GradientWorker (which runs the gradient loop and hands a local round's pull to this class) because
 * the overlap between pushing and training is a job of its own.
 */
import type * as tf from '@tensorflow/tfjs';
import type { StepReport } from './GradientWorker.js';
import type { HubClient, PulledWeights } from './HubClient.js';
import type { ParameterLayout } from './layout.js';
import { LocalTrainer, noProgress, type LocalProgress } from './LocalTrainer.js';
import { MAX_BATCHES_PER_PUSH, type LocalRoundPlan } from './protocol.js';
import { readFlatWeights, writeFlatWeights } from './training.js';
import type { UnitBatches } from './UnitBatches.js';
import { l2Norm, mergeDrift, weightChange } from './weightChange.js';

/** The push schema's bound on `computeMs`. */
const MAX_COMPUTE_MS = 3_600_000;

/** A pull's weights and when its answer arrived (performance.now(): a local round's clock starts then). */
export interface Answered {
  readonly pulled: PulledWeights;
  readonly at: number;
}

/** What local rounds need of the worker loop that runs them (GradientWorker). */
export interface LocalRoundLoop {
  readonly client: HubClient;
  readonly model: tf.LayersModel;
  readonly layout: ParameterLayout;
  /** True once the loop was asked to stop. */
  stopping(): boolean;
  reachedMaxSteps(): boolean;
  /** Examples per inner step for a round pulled with these weights. */
  batchSize(pulled: PulledWeights): number;
  /** Pulls until the hub answers, waiting while it says "not now"; null when the loop stops first. */
  pullUntilAnswered(): Promise<Answered | null>;
  /** Between steps: reports go out, then the page (or the Node event loop) gets its turn. */
  breathe(): Promise<void>;
  /** Hands out the reports queued so far. */
  flushReports(): void;
  /** Counts an accepted push of `examples` examples; the worker's totals after it. */
  countAccepted(examples: number): { steps: number; examples: number };
  /** Queues a report, handed out at the next breathe or flush. */
  queueReport(report: StepReport): void;
  /** A refused push: counted and reported when it is worth a retry, rethrown otherwise. */
  recoverFrom(error: unknown): Promise<void>;
}

/** Local mode: the change being built, measured from `start` (the round's weights). */
interface OpenChange {
  readonly round: Answered;
  readonly plan: LocalRoundPlan;
  readonly start: Float32Array;
  readonly progress: LocalProgress;
  /** Of progress.steps, those trained while the previous change was on the network. */
  readonly overlapSteps: number;
}

export class LocalRounds {
  private readonly loop: LocalRoundLoop;
  /** Local mode's inner optimizer, made at the first local round and kept (with its state) after. */
  private trainer: LocalTrainer | null = null;

  constructor(loop: LocalRoundLoop) {
    this.loop = loop;
  }

  /**
   * Local mode, from a round's weights until a pull answers without a plan (returned, for the gradient
   * loop) or the loop stops (null). Each round: inner steps on the round's weights until the plan's
   * steps are done or its time is up, then the change (start - end) is pushed and the next round's
   * weights pulled, while the worker keeps training from its own weights (at most the plan's steps
   * more): no volunteer idles on the network. When the next weights W arrive the worker goes on from
   * W + (what it trained meanwhile), and measures its next change from W, so the overlapped steps
   * count in the next push (see weightChange.ts). A refused change drops that drift: the worker starts
   * again from W.
   */
  async train(first: Answered, units: UnitBatches): Promise<Answered | null> {
    const { loop } = this;
    const { model, layout } = loop;
    const { config } = loop.client;
    const trainer = (this.trainer ??= new LocalTrainer(model, config.optimizer, config.learningRate));
    writeFlatWeights(model, layout, first.pulled.weights);
    let open = openChange(first, noProgress(), 0);
    for (;;) {
      const { plan, progress } = open;
      const batchSize = loop.batchSize(open.round.pulled);
      const steps = Math.max(1, plan.steps);
      const deadline = plan.trainMs === undefined ? Infinity : open.round.at + plan.trainMs;
      await trainer.train(units, progress, {
        batchSize,
        // At least one step: a change of none would carry nothing (and localSteps must be positive).
        more: () =>
          !loop.stopping() &&
          (progress.steps === 0 || (progress.steps < steps && performance.now() < deadline)),
        between: () => loop.breathe(),
      });
      if (loop.stopping()) return null;

      const atPush = await readFlatWeights(model, layout);
      const pushing = this.pushChange(open, weightChange(open.start, atPush), units.unitId);
      const exchange = pushing.then(async (accepted) => {
        if (loop.stopping() || loop.reachedMaxSteps()) return null;
        const answered = await loop.pullUntilAnswered();
        return answered && { accepted, answered };
      });
      let settled = false;
      // Marks the end either way; the outcome (or error) is taken from `exchange` below.
      void exchange.then(
        () => (settled = true),
        () => (settled = true),
      );
      const overlap = noProgress();
      await trainer.train(units, overlap, {
        batchSize,
        more: () => !settled && !loop.stopping() && overlap.steps < steps,
        between: () => loop.breathe(),
      });
      if (loop.stopping()) {
        // The push is on its way: count it, but do not wait for the next round.
        await pushing;
        loop.flushReports();
        return null;
      }
      const outcome = await exchange;
      loop.flushReports();
      if (outcome === null) return null;
      const { accepted, answered } = outcome;
      if (answered.pulled.local === undefined) return answered;
      const next = answered.pulled.weights;
      if (accepted && overlap.steps > 0) {
        const current = await readFlatWeights(model, layout);
        writeFlatWeights(model, layout, mergeDrift(next, current, atPush));
        open = openChange(answered, overlap, overlap.steps);
      } else {
        writeFlatWeights(model, layout, next);
        open = openChange(answered, noProgress(), 0);
      }
    }
  }

  /** Frees the inner optimizer's state, if a local round ever made one. */
  dispose(): void {
    this.trainer?.dispose();
  }

  /** Pushes a local round's weight change. Resolves to whether the hub accepted it. */
  private async pushChange(
    open: OpenChange,
    change: Float32Array,
    unitId: number | undefined,
  ): Promise<boolean> {
    const { progress, round } = open;
    const loss = progress.lossSum / progress.steps;
    try {
      const reply = await this.loop.client.push({
        gradient: change,
        versions: round.pulled.versions,
        round: round.pulled.round,
        localSteps: progress.steps,
        examples: progress.examples,
        loss,
        unitId,
        batches: replayable(open, progress),
        // Every inner step's time over every example: the hub's ms per example, as for a gradient.
        computeMs: Math.min(progress.computeMs, MAX_COMPUTE_MS),
      });
      const totals = this.loop.countAccepted(progress.examples);
      // Handed out between inner steps, when no step's tensors are alive (pages sample numTensors).
      this.loop.queueReport({
        steps: totals.steps,
        globalStep: reply.globalStep,
        loss,
        examples: totals.examples,
        staleness: reply.staleness,
        round: round.pulled.round,
        localSteps: progress.steps,
        overlapSteps: open.overlapSteps,
        changeNorm: l2Norm(change),
      });
      return true;
    } catch (error) {
      await this.loop.recoverFrom(error);
      return false;
    }
  }
}

/**
 * The batches a spot check can replay this change from, or undefined. A change with overlapped steps
 * is not replayable: those steps started from this worker's own weights of the previous round, which
 * the hub does not hold, and a replay from the round's weights failed honest workers (measured). A
 * very long round's list would pass the schema's bound. Either goes without a list, unchecked.
 */
function replayable(open: OpenChange, progress: LocalProgress): [number, number, number][] | undefined {
  const { batches } = progress;
  if (open.overlapSteps > 0 || batches === undefined || batches.length > MAX_BATCHES_PER_PUSH)
    return undefined;
  return batches;
}

function openChange(round: Answered, progress: LocalProgress, overlapSteps: number): OpenChange {
  const plan = round.pulled.local;
  if (plan === undefined) throw new Error('a local round needs a pull with a plan');
  return { round, plan, start: round.pulled.weights, progress, overlapSteps };
}
