import type { TrainingMode } from '../../shared/protocol.js';
import type { BackendChoice, BackendName, GpuAdapterReport } from './backends.js';
import type { ProbeFigure } from './probe.js';

/**
 * What the tab is doing. `held`: out of the hub because a limit the volunteer set says so (on
 * battery, the computer in use); `paused`: the person pressed Pause; `frozen`: the browser froze it.
 */
export type Phase =
  | 'starting'
  | 'probing'
  | 'connecting'
  | 'training'
  | 'paused'
  | 'held'
  | 'frozen'
  | 'reconnecting'
  | 'failed'
  | 'left';

export interface WorkerEvent {
  /** Date.now() */
  readonly at: number;
  readonly text: string;
}

/** Everything the page shows and the tests read (window.__worker.status()); plain data only. */
export interface WorkerView {
  readonly phase: Phase;
  /** One line on what is happening now (an error, the next retry, why a limit holds the tab, ...). */
  readonly detail: string;
  readonly hub: string;
  readonly choice: BackendChoice;
  readonly backend: BackendName | null;
  /** e.g. "wasm SIMD, 1 thread" or "webgpu: google swiftshader ... (fallback adapter)". */
  readonly backendDetail: string | null;
  /** The WebGPU adapter, when WebGPU is the backend in use. */
  readonly adapter: GpuAdapterReport | null;
  /** The probe's figures, in the order probed; null when no probe ran. */
  readonly probe: readonly ProbeFigure[] | null;
  /** Backends that failed in this tab and are not used again. */
  readonly failedBackends: readonly BackendName[];
  readonly workerId: string | null;
  /** The volunteer's public name at the hub (/api/volunteers, /api/status): kept after a session ends. */
  readonly volunteer: string | null;
  readonly run: {
    readonly mode: TrainingMode;
    readonly model: string;
    readonly params: number;
    readonly batchSize: number;
  } | null;
  /** Gradients the hub accepted from this tab, over every connection. */
  readonly steps: number;
  readonly examples: number;
  readonly globalStep: number | null;
  /** Over the last few seconds of training (sessionTally.ts). */
  readonly examplesPerSec: number;
  /**
   * Local mode: the last accepted weight change: its inner steps, how many of them ran while the
   * previous change was on its way, and its L2 norm. Null before one (and outside local mode).
   */
  readonly lastChange: {
    readonly localSteps: number;
    readonly overlapSteps: number;
    readonly changeNorm: number;
  } | null;
  readonly loss: number | null;
  /** Gradients refused with a retryable reason (a sync round closed first, ...). */
  readonly refused: number;
  /** Connections made to the hub (1 + reconnects and fallbacks). */
  readonly connections: number;
  /** tf.memory().numTensors right after each of the last steps: flat when nothing leaks. */
  readonly tensorsAfterStep: readonly number[];
  /** dataSync()/arraySync() calls made on WebGPU (must stay 0). */
  readonly syncReadsOnWebGpu: number;
  readonly events: readonly WorkerEvent[];
}

const MAX_EVENTS = 30;

export function initialView(hub: string, choice: BackendChoice): WorkerView {
  return {
    phase: 'starting',
    detail: 'starting',
    hub,
    choice,
    backend: null,
    backendDetail: null,
    adapter: null,
    probe: null,
    failedBackends: [],
    workerId: null,
    volunteer: null,
    run: null,
    steps: 0,
    examples: 0,
    globalStep: null,
    lastChange: null,
    examplesPerSec: 0,
    loss: null,
    refused: 0,
    connections: 0,
    tensorsAfterStep: [],
    syncReadsOnWebGpu: 0,
    events: [],
  };
}

/**
 * The view as an external store (React's useSyncExternalStore): every change makes a new snapshot,
 * so the page re-renders exactly when something changed, and the tests read plain data.
 */
export class ViewStore {
  private current: WorkerView;
  private readonly listeners = new Set<() => void>();

  constructor(initial: WorkerView) {
    this.current = initial;
  }

  get view(): WorkerView {
    return this.current;
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): WorkerView => this.current;

  update(patch: Partial<WorkerView>): void {
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener();
  }

  /** A line for the page's log (the last MAX_EVENTS are kept). */
  note(text: string): void {
    this.update({ events: [...this.current.events, { at: Date.now(), text }].slice(-MAX_EVENTS) });
  }
}
