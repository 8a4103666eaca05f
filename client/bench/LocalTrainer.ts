import * as tf from '@tensorflow/tfjs';
import { decodeExamples, type Examples } from '../../shared/examplesCodec.js';
import { examplesToTensors } from '../../shared/examplesTensors.js';
import { layoutOfModel } from '../../shared/layout.js';
import { buildModel, type ModelName } from '../../shared/models.js';
import { EXAMPLES_PATH } from '../../shared/protocol.js';
import { mulberry32 } from '../../shared/random.js';
import { crossEntropy, readFlatWeights } from '../../shared/training.js';
import {
  activateBackend,
  inspectWebGpu,
  messageOf,
  type BackendChoice,
  type BackendName,
} from '../worker/backends.js';
import { probeBackends, rankBackends } from '../worker/probe.js';
import { yieldToPage } from '../worker/yieldToPage.js';
import type { LocalSnapshot, LocalTrainerView } from './benchApi.js';

/** MNIST's training split: the hub serves examples [0, 60,000). */
const TRAIN_EXAMPLES = 60_000;

export interface LocalTrainerOptions {
  readonly choice: BackendChoice;
  readonly model: ModelName;
  readonly batchSize: number;
  readonly optimizer: 'sgd' | 'momentum' | 'adam';
  readonly learningRate: number;
  /** Examples fetched per request, as the hub's work units. */
  readonly unitSize: number;
  /** Seeds the per-epoch order of the units. */
  readonly seed: number;
}

/**
 * Trains the model in this tab alone: what a person does instead of volunteering. The same model,
 * batch, optimizer (TF.js's own, which the hub's update rules reproduce), input pipeline
 * (examplesToTensors) and yield between steps (yieldToPage) as the worker page, without the hub's
 * training protocol: examples come over plain HTTP, a unit ahead, and each step is
 * `optimizer.minimize` on the tab's own variables.
 */
export class LocalTrainer {
  private view: LocalTrainerView;
  private model: tf.LayersModel | null = null;
  private optimizer: tf.Optimizer | null = null;
  private running = false;
  /** Bumped by every start(): a loop from an earlier start stops even if training was resumed meanwhile. */
  private generation = 0;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly snapshotWaiters: ((snapshot: LocalSnapshot) => void)[] = [];
  private readonly listeners = new Set<(view: LocalTrainerView) => void>();

  constructor(private readonly options: LocalTrainerOptions) {
    this.view = {
      phase: 'choosing',
      detail: 'choosing a backend',
      choice: options.choice,
      backend: null,
      backendDetail: null,
      steps: 0,
      examples: 0,
      loss: null,
    };
  }

  status(): LocalTrainerView {
    return this.view;
  }

  onChange(listener: (view: LocalTrainerView) => void): void {
    this.listeners.add(listener);
  }

  /** Picks the backend as the worker page does: forced, WebGPU on a real adapter, or a probe's fastest. */
  async prepare(): Promise<void> {
    try {
      const backend = await this.chooseBackend();
      const detail = await activateBackend(backend);
      this.update({ phase: 'ready', detail: 'waiting for start()', backend, backendDetail: detail });
    } catch (error) {
      this.update({ phase: 'failed', detail: messageOf(error) });
    }
  }

  start(fresh = false): void {
    if (this.view.phase === 'choosing' || this.view.phase === 'failed' || this.running) return;
    this.running = true;
    const generation = ++this.generation;
    this.update({ phase: 'training', detail: 'training' });
    this.loopDone = this.loopDone
      .then(() => this.train(fresh, () => this.running && this.generation === generation))
      .catch((error: unknown) => {
        this.running = false;
        this.update({ phase: 'failed', detail: messageOf(error) });
      });
  }

  pause(): void {
    if (!this.running) return;
    this.running = false;
    this.update({ phase: 'paused', detail: 'paused' });
  }

  snapshot(): Promise<LocalSnapshot> {
    return new Promise((resolve) => {
      this.snapshotWaiters.push(resolve);
      // While nothing trains, the weights are already between two steps.
      if (!this.running) void this.answerSnapshots();
    });
  }

  private async chooseBackend(): Promise<BackendName> {
    if (this.options.choice !== 'auto') return this.options.choice;
    // The same decision as BrowserWorker.chooseBackend (private there), minus the fallbacks a long
    // run needs.
    const webgpu = await inspectWebGpu();
    if (webgpu.available && !webgpu.adapter.isFallbackAdapter) return 'webgpu';
    const order: BackendName[] = ['wasm', 'webgl', 'cpu', 'webgpu'];
    const candidates = webgpu.available ? order : order.filter((b) => b !== 'webgpu');
    this.update({ detail: `probing ${candidates.join(', ')}` });
    const figures = await probeBackends(candidates, {
      model: this.options.model,
      batchSize: this.options.batchSize,
    });
    const [best] = rankBackends(figures);
    if (best === undefined) throw new Error('no TF.js backend can train in this browser');
    return best;
  }

  private async train(fresh: boolean, active: () => boolean): Promise<void> {
    if (fresh || this.model === null) this.reset();
    const model = this.model!;
    const optimizer = this.optimizer!;
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const nextUnit = unitOrder(this.options);
    let next = fetchUnit(nextUnit());
    while (active()) {
      const data = await next;
      next = fetchUnit(nextUnit());
      for (let start = 0; start < data.count && active(); start += this.options.batchSize) {
        const count = Math.min(this.options.batchSize, data.count - start);
        const { xs, ys } = examplesToTensors(data, start, count);
        let loss: tf.Scalar | null = null;
        try {
          // returnCost true: minimize returns the loss (its type allows null for returnCost false).
          loss = tf.tidy(
            () =>
              optimizer.minimize(
                () => crossEntropy(ys, model.apply(xs) as tf.Tensor),
                true,
                variables,
              ) as tf.Scalar,
          );
          const value = (await loss.data())[0];
          this.update({
            steps: this.view.steps + 1,
            examples: this.view.examples + count,
            loss: value,
          });
        } finally {
          xs.dispose();
          ys.dispose();
          loss?.dispose();
        }
        await this.answerSnapshots();
        await yieldToPage();
      }
    }
    // The unit fetched ahead is not needed any more.
    void next.catch(() => undefined);
    await this.answerSnapshots();
  }

  /** A new model (fresh random weights) and optimizer, step 0. */
  private reset(): void {
    this.model?.dispose();
    this.optimizer?.dispose();
    this.model = buildModel(this.options.model);
    const { optimizer, learningRate } = this.options;
    this.optimizer =
      optimizer === 'sgd'
        ? tf.train.sgd(learningRate)
        : optimizer === 'momentum'
          ? tf.train.momentum(learningRate, 0.9)
          : tf.train.adam(learningRate);
    this.update({ steps: 0, examples: 0, loss: null });
  }

  private async answerSnapshots(): Promise<void> {
    if (this.snapshotWaiters.length === 0) return;
    const waiters = this.snapshotWaiters.splice(0);
    const model = this.model;
    const weights = model ? Array.from(await readFlatWeights(model, layoutOfModel(model))) : [];
    const snapshot = { examples: this.view.examples, weights };
    for (const resolve of waiters) resolve(snapshot);
  }

  private update(patch: Partial<LocalTrainerView>): void {
    this.view = { ...this.view, ...patch };
    for (const listener of this.listeners) listener(this.view);
  }
}

/** Unit ranges, epoch after epoch, each epoch in a seeded shuffled order (as the hub's unit pool). */
function unitOrder({ unitSize, seed }: LocalTrainerOptions): () => UnitRange {
  const random = mulberry32(seed);
  const starts: number[] = [];
  for (let start = 0; start < TRAIN_EXAMPLES; start += unitSize) starts.push(start);
  let index = starts.length;
  return () => {
    if (index === starts.length) {
      for (let i = starts.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [starts[i], starts[j]] = [starts[j], starts[i]];
      }
      index = 0;
    }
    const start = starts[index++];
    return { start, count: Math.min(unitSize, TRAIN_EXAMPLES - start) };
  };
}

interface UnitRange {
  readonly start: number;
  readonly count: number;
}

async function fetchUnit({ start, count }: UnitRange): Promise<Examples> {
  const response = await fetch(`${EXAMPLES_PATH}?start=${start}&count=${count}`);
  if (!response.ok) throw new Error(`GET ${EXAMPLES_PATH} answered ${response.status}`);
  return decodeExamples(await response.arrayBuffer());
}
