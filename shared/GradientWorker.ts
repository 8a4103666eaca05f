import * as tf from '@tensorflow/tfjs';
import { ErrorCode } from './errors.js';
import type { Examples } from './examplesCodec.js';
import { examplesToTensors } from './examplesTensors.js';
import { HubRequestError, type HubClient } from './HubClient.js';
import { layoutFromShapes, layoutOfModel, sameLayout, type ParameterLayout } from './layout.js';
import { buildModel } from './models.js';
import type { WorkUnit } from './protocol.js';
import { computeGradients, writeFlatWeights } from './training.js';

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
}

export interface WorkerSummary {
  readonly steps: number;
  readonly examples: number;
  readonly refused: number;
}

/** Refusals after which the worker simply pulls fresh weights and computes the batch again. */
const RETRYABLE = new Set<string>([ErrorCode.StaleRound, ErrorCode.NotInRound, ErrorCode.DuplicateInRound]);

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
    const batchSize = this.options.batchSize ?? client.config.batchSize;
    let unit: WorkUnit | null = null;
    let data: Examples | null = null;
    let cursor = 0;
    try {
      while (!this.stopping && this.steps < maxSteps) {
        if (unit === null || data === null || cursor >= unit.count) {
          if (unit !== null) await client.completeUnit(unit.unitId);
          unit = await client.leaseUnit();
          data = await client.fetchExamples(unit);
          cursor = 0;
        }
        const count = Math.min(batchSize, unit.count - cursor);
        if (await this.step(data, cursor, count)) cursor += count;
        // Let the page (or the Node event loop) breathe between steps.
        await tf.nextFrame();
      }
    } finally {
      this.model.dispose();
    }
    return { steps: this.steps, examples: this.examples, refused: this.refused };
  }

  /** One pull -> gradient -> push. False when the hub refused the gradient for a reason worth a retry. */
  private async step(data: Examples, start: number, count: number): Promise<boolean> {
    const { client } = this.options;
    const pulled = await client.pull();
    writeFlatWeights(this.model, this.layout, pulled.weights);
    const { xs, ys } = examplesToTensors(data, start, count);
    let result;
    try {
      result = await computeGradients(this.model, this.layout, xs, ys);
    } finally {
      xs.dispose();
      ys.dispose();
    }
    try {
      const reply = await client.push({
        gradient: result.gradient,
        versions: pulled.versions,
        round: pulled.round,
        examples: count,
        loss: result.loss,
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
      return true;
    } catch (error) {
      if (!(error instanceof HubRequestError) || !RETRYABLE.has(error.code)) throw error;
      this.refused++;
      this.options.onRefused?.(error);
      return false;
    }
  }
}
