import * as tf from '@tensorflow/tfjs';
import { ErrorCode } from './errors.js';
import type { Examples } from './examplesCodec.js';
import { examplesToTensors } from './examplesTensors.js';
import { HubRequestError, type HubClient } from './HubClient.js';
import { layoutFromShapes, layoutOfModel, sameLayout, type ParameterLayout } from './layout.js';
import { buildModel } from './models.js';
import type { WorkUnit } from './protocol.js';
import { computeGradients, writeFlatWeights } from './training.js';
import { UnitPrefetcher, type LoadedUnit } from './UnitPrefetcher.js';

export interface StepReport {
  /** Gradients this worker has had accepted. */
  readonly steps: number;
  readonly globalStep: number;
  readonly loss: number;
  readonly examples: number;
  readonly staleness: number;
}

export interface GradientWorkerOptions {
  readonly client: HubClient;
  /** Examples per gradient; defaults to the hub's batch size. */
  readonly batchSize?: number;
  /** Stop after this many accepted gradients. */
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
  ErrorCode.TooStale,
  ErrorCode.Paused,
  // A gradient far out of line (a rare honest one, or a fault): the next batch gets a new chance.
  ErrorCode.Outlier,
  // A shard process is restarting: wait a moment, then pull fresh weights (it may have gone back to
  // its last checkpoint).
  ErrorCode.ShardUnavailable,
]);

/**
 * The next work unit starts loading when this many batches of the current one are left: enough to hide
 * a lease round trip and a download, few enough that a stopping worker holds little it will not use.
 */
const LOAD_AHEAD_BATCHES = 2;

/** How long a worker waits before asking again while the operator has paused training. */
const PAUSED_RETRY_MS = 2_000;
/** How long a worker waits before asking again while a shard's process is not answering. */
const SHARD_RETRY_MS = 1_000;

/** Refusals that say "not now": the worker waits this long before it asks again. */
const WAIT_BEFORE_RETRY_MS = new Map<string, number>([
  [ErrorCode.Paused, PAUSED_RETRY_MS],
  [ErrorCode.ShardUnavailable, SHARD_RETRY_MS],
]);

/** How long to wait after this error before asking again; undefined when it is no "not now". */
function waitBeforeRetry(error: unknown): number | undefined {
  return error instanceof HubRequestError ? WAIT_BEFORE_RETRY_MS.get(error.code) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Answers to `unit:complete` meaning the lease had already ended (expired, or the connection dropped). */
const LEASE_GONE = new Set<string>([ErrorCode.UnknownUnit, 'UNREACHABLE']);

/**
 * The worker's loop, the same in Node and in a browser tab: lease a work unit and fetch its examples,
 * then for each batch pull a weight snapshot, compute the gradient, push it tagged with the versions
 * (and sync round) it was computed from. The TF.js backend must be set up before `run()`.
 */
export class GradientWorker {
  private readonly options: GradientWorkerOptions;
  private readonly model: tf.LayersModel;
  private readonly layout: ParameterLayout;
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

  /** Asks the loop to stop after the current step. */
  stop(): void {
    this.stopping = true;
  }

  async run(): Promise<WorkerSummary> {
    const { client, maxSteps = Infinity } = this.options;
    const units = new UnitPrefetcher(client);
    let unit: LoadedUnit | null = null;
    let cursor = 0;
    try {
      while (!this.stopping && this.steps < maxSteps) {
        // A reconnect ends the hub's side of the lease: the unit may already be someone else's.
        if (unit !== null && (cursor >= unit.lease.count || unit.session !== client.sessionId)) {
          if (unit.session === client.sessionId) await this.complete(unit.lease);
          unit = null;
        }
        if (unit === null) {
          unit = await units.take();
          cursor = 0;
        }
        const left = unit.lease.count - cursor;
        if (left <= LOAD_AHEAD_BATCHES * (this.options.batchSize ?? client.config.batchSize))
          units.loadAhead();
        cursor += await this.step(unit.lease, unit.data, cursor);
        // Let the page (or the Node event loop) breathe between steps.
        await (this.options.yieldBetweenSteps ?? tf.nextFrame)();
      }
    } finally {
      this.model.dispose();
    }
    return { steps: this.steps, examples: this.examples, refused: this.refused };
  }

  /**
   * One pull -> gradient -> push on the unit's examples from `start`. Returns how many examples it
   * used up: 0 when the hub refused the gradient for a reason worth a retry.
   *
   * The pull comes right before the gradient, not with the previous push (`pullAfter`): weights
   * pulled after the yield between steps carry the other workers' latest pushes. Measured with two
   * tabs (bench figure 4, --quick): taking the weights from the push reply saved a round trip per
   * step but needed 39,000-43,000 examples to 0.95 instead of 23,000-31,000.
   */
  private async step(unit: WorkUnit, data: Examples, start: number): Promise<number> {
    const { client } = this.options;
    let pulled;
    try {
      pulled = await client.pull();
    } catch (error) {
      const waitMs = waitBeforeRetry(error);
      if (waitMs === undefined) throw error;
      await sleep(waitMs);
      return 0;
    }
    // An explicit batch size wins; then the hub's request (it sizes batches by speed); then its default.
    const batchSize = this.options.batchSize ?? pulled.batchSize ?? client.config.batchSize;
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
      });
      return count;
    } catch (error) {
      if (!(error instanceof HubRequestError) || !RETRYABLE.has(error.code)) throw error;
      this.refused++;
      this.options.onRefused?.(error);
      const waitMs = waitBeforeRetry(error);
      if (waitMs !== undefined) await sleep(waitMs);
      return 0;
    }
  }

  /**
   * Reports a finished unit. A lease that expired meanwhile, or that a lost connection ended, is no
   * error: the hub put the unit back in the pool, and training goes on with a new one.
   */
  private async complete(unit: WorkUnit): Promise<void> {
    try {
      await this.options.client.completeUnit(unit.unitId);
    } catch (error) {
      const leaseGone = error instanceof HubRequestError && LEASE_GONE.has(error.code);
      if (!leaseGone) throw error;
    }
  }
}
