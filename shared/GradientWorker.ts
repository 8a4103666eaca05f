/**
 * The worker loop the Node worker, the browser tab and the tests run: leases units, pulls weights,
 * pushes gradients, and hands local rounds to LocalRounds. Which refusals it retries, and how long
 * it waits, is in workerRetryPolicy.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { ErrorCode } from './errors.js';
import { examplesToTensors } from './examplesTensors.js';
import { HubRequestError, type HubClient, type PulledWeights } from './HubClient.js';
import { layoutFromShapes, layoutOfModel, sameLayout, type ParameterLayout } from './layout.js';
import { LocalRounds, type Answered } from './LocalRounds.js';
import { passKnownAnswer } from './knownAnswer.js';
import { buildModel } from './models.js';
import { computeGradients, writeFlatWeights } from './training.js';
import { UnitBatches, type UnitPosition } from './UnitBatches.js';
import { RETRYABLE, sleep, waitBeforeRetry } from './workerRetryPolicy.js';

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

/**
 * The worker's loop, the same in Node and in a browser tab: lease a work unit and fetch its examples,
 * then for each batch pull a weight snapshot, compute the gradient, push it tagged with the versions
 * (and sync round) it was computed from. When a pull answers with a local round's plan, the worker
 * trains those weights itself and pushes its weight change instead (see LocalRounds); each pull's
 * answer decides, so a run may switch modes. The TF.js backend must be set up before `run()`.
 */
export class GradientWorker {
  private readonly options: GradientWorkerOptions;
  private readonly model: tf.LayersModel;
  private readonly layout: ParameterLayout;
  /** Local mode: trains a round's weights here and pushes the change (with its own inner optimizer). */
  private readonly local: LocalRounds;
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
    this.local = new LocalRounds({
      client: options.client,
      model: this.model,
      layout: this.layout,
      stopping: () => this.stopping,
      reachedMaxSteps: () => this.reachedMaxSteps(),
      batchSize: (pulled) => this.batchSize(pulled),
      pullUntilAnswered: () => this.pullUntilAnswered(),
      breathe: () => this.breathe(),
      flushReports: () => this.flushReports(),
      countAccepted: (examples) => {
        this.steps++;
        this.examples += examples;
        return { steps: this.steps, examples: this.examples };
      },
      queueReport: (report) => this.pendingReports.push(report),
      recoverFrom: (error) => this.recoverFrom(error),
    });
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
          next = await this.local.train(next, units);
          continue;
        }
        units.consume(await this.step(position, next.pulled));
        next = null;
        // Let the page (or the Node event loop) breathe between steps.
        await this.breathe();
      }
      await units.settle();
    } finally {
      this.local.dispose();
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
