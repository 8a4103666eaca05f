import * as tf from '@tensorflow/tfjs';
import { ErrorCode } from './errors.js';
import { examplesToTensors } from './examplesTensors.js';
import { HubRequestError, type HubClient, type PulledWeights } from './HubClient.js';
import { layoutFromShapes, layoutOfModel, sameLayout, type ParameterLayout } from './layout.js';
import { LocalTrainer, noProgress, type LocalProgress } from './LocalTrainer.js';
import { passKnownAnswer } from './knownAnswer.js';
import { buildModel } from './models.js';
import { MAX_BATCHES_PER_PUSH, type LocalRoundPlan } from './protocol.js';
import { computeGradients, readFlatWeights, writeFlatWeights } from './training.js';
import { UnitBatches, type UnitPosition } from './UnitBatches.js';
import { l2Norm, mergeDrift, weightChange } from './weightChange.js';

export interface StepReport {
  /** Pushes this worker has had accepted (gradients, or local mode's weight changes). */
  readonly steps: number;
  readonly globalStep: number;
  /** The accepted push's loss: its batch's, or the mean over a change's inner steps. */
  readonly loss: number;
  /** Examples behind every accepted push so far. */
  readonly examples: number;
  readonly staleness: number;
  /** Sync and local mode: the round the accepted push belonged to. */
  readonly round?: number;
  /** Local mode: inner steps behind the accepted weight change; absent for a gradient. */
  readonly localSteps?: number;
  /**
   * Local mode: of `localSteps`, those taken while the previous change and this round's weights were
   * on the network (the time a worker would otherwise have idled).
   */
  readonly overlapSteps?: number;
  /** Local mode: the L2 norm of the accepted weight change. */
  readonly changeNorm?: number;
}

export interface GradientWorkerOptions {
  readonly client: HubClient;
  /** Examples per gradient (and per inner step in local mode), at most the hub's batch size (the default). */
  readonly batchSize?: number;
  /** Stop after this many accepted pushes. */
  readonly maxSteps?: number;
  readonly onStep?: (report: StepReport) => void;
  /** Refusals the loop recovers from (a sync round closed before the gradient arrived, ...). */
  readonly onRefused?: (error: HubRequestError) => void;
  /**
   * Awaited between steps so the page (or the Node event loop) can breathe; default `tf.nextFrame()`.
   * A browser tab passes one that does not wait for an animation frame while the tab is hidden:
   * browsers stop requestAnimationFrame in background tabs, which would stall the loop.
   */
  readonly yieldBetweenSteps?: () => Promise<void>;
  /** The hub's known-answer check passed: how close this backend came, and how long it took. */
  readonly onKnownAnswer?: (result: { cosine: number; normRatio: number; ms: number }) => void;
}

export interface WorkerSummary {
  readonly steps: number;
  readonly examples: number;
  readonly refused: number;
}

/** Refusals after which the worker simply pulls fresh weights and computes the batch again. */
const RETRYABLE = new Set<string>([
  ErrorCode.StaleRound,
  ErrorCode.NotInRound,
  ErrorCode.DuplicateInRound,
  ErrorCode.BackupDropped,
  // A round no shard applied (a shard lost its sums): the next pull hands out the next round.
  ErrorCode.RoundAborted,
  ErrorCode.TooStale,
  // Only a coordinator restarted from its checkpoint forgets versions it served since: pull again.
  ErrorCode.FutureVersion,
  ErrorCode.Paused,
  ErrorCode.ShuttingDown,
  // The mode changed between the pull and the push (a gradient in local mode, a change in async or
  // sync): the next pull says what the mode wants now.
  ErrorCode.WrongUpdateKind,
  // A gradient far out of line (a rare honest one, or a fault): the next batch gets a new chance.
  ErrorCode.Outlier,
  // A shard process is restarting: wait a moment, then pull fresh weights (it may have gone back to
  // its last checkpoint).
  ErrorCode.ShardUnavailable,
]);

/** How long a worker waits before asking again while the operator has paused training. */
const PAUSED_RETRY_MS = 2_000;
/** How long a worker waits before asking again while a shard's process is not answering. */
const SHARD_RETRY_MS = 1_000;
/** The push schema's bound on `computeMs`. */
const MAX_COMPUTE_MS = 3_600_000;

/** Refusals that say "not now": the worker waits this long before it asks again. */
const WAIT_BEFORE_RETRY_MS = new Map<string, number>([
  [ErrorCode.Paused, PAUSED_RETRY_MS],
  [ErrorCode.ShardUnavailable, SHARD_RETRY_MS],
  // The hub is going down (for a restart, often): the connection drops and reconnects meanwhile.
  [ErrorCode.ShuttingDown, SHARD_RETRY_MS],
]);

/** How long to wait after this error before asking again; undefined when it is no "not now". */
function waitBeforeRetry(error: unknown): number | undefined {
  return error instanceof HubRequestError ? WAIT_BEFORE_RETRY_MS.get(error.code) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A pull's weights and when its answer arrived (performance.now(): a local round's clock starts then). */
interface Answered {
  readonly pulled: PulledWeights;
  readonly at: number;
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

/**
 * The worker's loop, the same in Node and in a browser tab: lease a work unit and fetch its examples,
 * then for each batch pull a weight snapshot, compute the gradient, push it tagged with the versions
 * (and sync round) it was computed from. When a pull answers with a local round's plan, the worker
 * trains those weights itself and pushes its weight change instead (see trainLocally); each pull's
 * answer decides, so a run may switch modes. The TF.js backend must be set up before `run()`.
 */
export class GradientWorker {
  private readonly options: GradientWorkerOptions;
  private readonly model: tf.LayersModel;
  private readonly layout: ParameterLayout;
  /** Local mode's inner optimizer, made at the first local round and kept (with its state) after. */
  private trainer: LocalTrainer | null = null;
  /** Reports of pushes accepted while inner steps ran, handed out between steps. */
  private readonly pendingReports: StepReport[] = [];
  private stopping = false;
  private steps = 0;
  private examples = 0;
  private refused = 0;

  constructor(options: GradientWorkerOptions) {
    this.options = options;
    const { config } = options.client;
    this.model = buildModel(config.model);
    this.layout = layoutOfModel(this.model);
    if (!sameLayout(this.layout, layoutFromShapes(config.layout))) {
      this.model.dispose();
      throw new Error(
        `this worker's ${config.model} model does not match the hub's parameter layout; reload the page or update the worker`,
      );
    }
  }

  /** Asks the loop to stop after the current step (in local mode, the current inner step). */
  stop(): void {
    this.stopping = true;
  }

  async run(): Promise<WorkerSummary> {
    const { client } = this.options;
    const units = new UnitBatches(client);
    let next: Answered | null = null;
    try {
      if (client.config.knownAnswer) await this.passKnownAnswer();
      while (!this.stopping && !this.reachedMaxSteps()) {
        const position = await units.current(this.batchSize(), true);
        next ??= await this.pull();
        if (next === null) continue;
        if (next.pulled.local !== undefined) {
          next = await this.trainLocally(next, units);
          continue;
        }
        units.consume(await this.step(position, next.pulled));
        next = null;
        // Let the page (or the Node event loop) breathe between steps.
        await this.breathe();
      }
      await units.settle();
    } finally {
      this.trainer?.dispose();
      this.model.dispose();
    }
    return { steps: this.steps, examples: this.examples, refused: this.refused };
  }

  /**
   * One gradient -> push on the unit's examples from its cursor, from weights just pulled. Returns how
   * many examples it used up: 0 when the hub refused the gradient for a reason worth a retry.
   *
   * The pull comes right before the gradient, not with the previous push (`pullAfter`): weights
   * pulled after the yield between steps carry the other workers' latest pushes. Measured with two
   * tabs (bench figure 4, --quick): taking the weights from the push reply saved a round trip per
   * step but needed 39,000-43,000 examples to 0.95 instead of 23,000-31,000.
   */
  private async step(position: UnitPosition, pulled: PulledWeights): Promise<number> {
    const { client } = this.options;
    const { lease: unit, data, cursor: start } = position;
    // An explicit batch size wins; then the hub's request (it sizes batches by speed); then its default.
    const batchSize = this.batchSize(pulled);
    const count = Math.min(batchSize, unit.count - start);
    writeFlatWeights(this.model, this.layout, pulled.weights);
    const { xs, ys } = examplesToTensors(data, start, count);
    const began = performance.now();
    let result;
    try {
      result = await computeGradients(this.model, this.layout, xs, ys);
    } finally {
      xs.dispose();
      ys.dispose();
    }
    const computeMs = performance.now() - began;
    try {
      const reply = await client.push({
        gradient: result.gradient,
        versions: pulled.versions,
        round: pulled.round,
        examples: count,
        loss: result.loss,
        unitId: unit.unitId,
        batches: [[unit.unitId, start, count]],
        computeMs,
      });
      this.steps++;
      this.examples += count;
      this.options.onStep?.({
        steps: this.steps,
        globalStep: reply.globalStep,
        loss: result.loss,
        examples: this.examples,
        staleness: reply.staleness,
        round: pulled.round,
      });
      return count;
    } catch (error) {
      await this.recoverFrom(error);
      return 0;
    }
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
  private async trainLocally(first: Answered, units: UnitBatches): Promise<Answered | null> {
    const { config } = this.options.client;
    const trainer = (this.trainer ??= new LocalTrainer(this.model, config.optimizer, config.learningRate));
    writeFlatWeights(this.model, this.layout, first.pulled.weights);
    let open = openChange(first, noProgress(), 0);
    for (;;) {
      const { plan, progress } = open;
      const batchSize = this.batchSize(open.round.pulled);
      const steps = Math.max(1, plan.steps);
      const deadline = plan.trainMs === undefined ? Infinity : open.round.at + plan.trainMs;
      await trainer.train(units, progress, {
        batchSize,
        // At least one step: a change of none would carry nothing (and localSteps must be positive).
        more: () =>
          !this.stopping &&
          (progress.steps === 0 || (progress.steps < steps && performance.now() < deadline)),
        between: () => this.breathe(),
      });
      if (this.stopping) return null;

      const atPush = await readFlatWeights(this.model, this.layout);
      const pushing = this.pushChange(open, weightChange(open.start, atPush), units.unitId);
      const exchange = pushing.then(async (accepted) => {
        if (this.stopping || this.reachedMaxSteps()) return null;
        const answered = await this.pullUntilAnswered();
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
        more: () => !settled && !this.stopping && overlap.steps < steps,
        between: () => this.breathe(),
      });
      if (this.stopping) {
        // The push is on its way: count it, but do not wait for the next round.
        await pushing;
        this.flushReports();
        return null;
      }
      const outcome = await exchange;
      this.flushReports();
      if (outcome === null) return null;
      const { accepted, answered } = outcome;
      if (answered.pulled.local === undefined) return answered;
      const next = answered.pulled.weights;
      if (accepted && overlap.steps > 0) {
        const current = await readFlatWeights(this.model, this.layout);
        writeFlatWeights(this.model, this.layout, mergeDrift(next, current, atPush));
        open = openChange(answered, overlap, overlap.steps);
      } else {
        writeFlatWeights(this.model, this.layout, next);
        open = openChange(answered, noProgress(), 0);
      }
    }
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
      const reply = await this.options.client.push({
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
      this.steps++;
      this.examples += progress.examples;
      // Handed out between inner steps, when no step's tensors are alive (pages sample numTensors).
      this.pendingReports.push({
        steps: this.steps,
        globalStep: reply.globalStep,
        loss,
        examples: this.examples,
        staleness: reply.staleness,
        round: round.pulled.round,
        localSteps: progress.steps,
        overlapSteps: open.overlapSteps,
        changeNorm: l2Norm(change),
      });
      return true;
    } catch (error) {
      await this.recoverFrom(error);
      return false;
    }
  }

  /** A pull for the main loop: null when the hub said "not now" (after waiting as it asks). */
  private async pull(): Promise<Answered | null> {
    try {
      const pulled = await this.options.client.pull();
      return { pulled, at: performance.now() };
    } catch (error) {
      const waitMs = waitBeforeRetry(error);
      if (waitMs === undefined) throw error;
      await sleep(waitMs);
      return null;
    }
  }

  /** Pulls until the hub answers, waiting while it says "not now"; null when the loop stops first. */
  private async pullUntilAnswered(): Promise<Answered | null> {
    while (!this.stopping) {
      const answered = await this.pull();
      if (answered !== null) return answered;
    }
    return null;
  }

  /** Before the hub counts this backend's pushes: one gradient checked against the hub's own. */
  private async passKnownAnswer(): Promise<void> {
    for (;;) {
      try {
        // Computed first: `onKnownAnswer?.(await ...)` would skip the check itself without a listener.
        const passed = await passKnownAnswer(this.options.client, this.model, this.layout);
        this.options.onKnownAnswer?.(passed);
        return;
      } catch (error) {
        // "Not now" (a shard restarting, a pause): the check's weights could not be read; ask again.
        const waitMs = waitBeforeRetry(error);
        if (waitMs === undefined) throw error;
        await sleep(waitMs);
      }
    }
  }

  /** A refused push: counted and reported when it is worth a retry, rethrown otherwise. */
  private async recoverFrom(error: unknown): Promise<void> {
    // A hub restarted since the check (it forgot the pass): check again, then go on.
    if (error instanceof HubRequestError && error.code === ErrorCode.NotVerified) {
      this.refused++;
      await this.passKnownAnswer();
      return;
    }
    if (!(error instanceof HubRequestError) || !RETRYABLE.has(error.code)) throw error;
    this.refused++;
    this.options.onRefused?.(error);
    const waitMs = waitBeforeRetry(error);
    if (waitMs !== undefined) await sleep(waitMs);
  }

  /**
   * The hub's request (it sizes batches by speed), or else its default; an explicit batch size may
   * ask for less, never more: the hub refuses a push that claims more examples than it asked for.
   */
  private batchSize(pulled?: PulledWeights): number {
    const asked = pulled?.batchSize ?? this.options.client.config.batchSize;
    return Math.min(this.options.batchSize ?? asked, asked);
  }

  private reachedMaxSteps(): boolean {
    return this.steps >= (this.options.maxSteps ?? Infinity);
  }

  /** Between steps: reports go out, then the page (or the Node event loop) gets its turn. */
  private async breathe(): Promise<void> {
    this.flushReports();
    await (this.options.yieldBetweenSteps ?? tf.nextFrame)();
  }

  private flushReports(): void {
    for (const report of this.pendingReports.splice(0)) this.options.onStep?.(report);
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
