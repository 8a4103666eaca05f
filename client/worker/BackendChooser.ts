import { ErrorCode } from '../../shared/errors.js';
import { HubRequestError } from '../../shared/HubClient.js';
import { layoutOfModel } from '../../shared/layout.js';
import { buildModel, isModelName, type ModelName } from '../../shared/models.js';
import { readFlatWeights } from '../../shared/training.js';
import {
  activateBackend,
  activeGpuDevice,
  describeAdapter,
  inspectWebGpu,
  messageOf,
  withTimeout,
  type BackendChoice,
  type BackendName,
  type GpuDeviceLike,
} from './backends.js';
import { FatalError } from './fatalError.js';
import {
  benchmarkStep,
  fastest,
  formatProbe,
  probeBackends,
  rankBackends,
  syntheticExamples,
  type ProbeFigure,
} from './probe.js';
import type { ViewStore } from './workerView.js';

/** The run parameters the probe needs before the tab joins (read from GET /api/status). */
export interface RunInfo {
  readonly model: ModelName;
  readonly batchSize: number;
}

export interface BackendChooserOptions {
  readonly hubUrl: string;
  readonly choice: BackendChoice;
  readonly store: ViewStore;
  /** The GPU device in use was lost: the step in flight should stop, so that the loop falls back. */
  readonly onDeviceLost: () => void;
}

/** A check step on a backend that threw may take this long, or 5x its probed step. */
const CHECK_STEP_BUDGET_MS = 15_000;
/** The hello `device` field's limit (shared/protocol.ts). */
const DEVICE_MAX_CHARS = 200;

/**
 * Which TF.js backend the tab trains on, and what happens when it breaks: forced by ?backend=, WebGPU
 * on a real adapter, or the fastest of a probe; a backend that fails is marked and the next fastest
 * taken (measured now when nothing was).
 */
export class BackendChooser {
  private readonly options: BackendChooserOptions;
  private current: BackendName | null = null;
  /** Fastest first, from the last probe; null when no probe ran. */
  private ranking: BackendName[] | null = null;
  private readonly failed = new Set<BackendName>();
  /** Set when the GPU device behind the webgpu backend is lost. */
  private lost: string | null = null;
  private watchedDevice: GpuDeviceLike | null = null;
  /** The run's model and batch size, from the hub's status or its hello. */
  runInfo: RunInfo | null = null;

  constructor(options: BackendChooserOptions) {
    this.options = options;
  }

  get backend(): BackendName | null {
    return this.current;
  }

  /** Why the WebGPU device went away, when it did; the loop then falls back. */
  get deviceLost(): string | null {
    return this.lost;
  }

  private note(text: string): void {
    this.options.store.note(text);
  }

  /** Forced, WebGPU on a real adapter, or the fastest of a probe. */
  async choose(): Promise<void> {
    const { choice } = this.options;
    if (choice !== 'auto' && !this.failed.has(choice)) {
      if (await this.use(choice)) return;
      this.failed.add(choice);
      this.note(`the forced backend ${choice} is unavailable; choosing among the others`);
    }
    const webgpu = await inspectWebGpu();
    if (webgpu.available && !webgpu.adapter.isFallbackAdapter && !this.failed.has('webgpu')) {
      this.note(`WebGPU adapter ${describeAdapter(webgpu.adapter)}: using WebGPU`);
      if (await this.use('webgpu')) return;
      this.failed.add('webgpu');
    }
    const why = webgpu.available
      ? `the WebGPU adapter is a fallback one (${describeAdapter(webgpu.adapter)})`
      : `WebGPU is missing: ${webgpu.reason}`;
    await this.probeAndPick(
      why,
      webgpu.available ? [] : [{ backend: 'webgpu', outcome: 'unavailable', note: webgpu.reason }],
    );
  }

  /**
   * Times every backend that is not known to be broken (WebGPU last: on a software adapter its
   * first step is the slowest, and the budgets cut it) and switches to the fastest.
   */
  private async probeAndPick(why: string, known: ProbeFigure[]): Promise<void> {
    const { store } = this.options;
    const runInfo = this.runInfo ?? (await this.fetchRunInfo());
    const order: BackendName[] = ['wasm', 'webgl', 'cpu', 'webgpu'];
    const candidates = order.filter((b) => !this.failed.has(b) && !known.some((k) => k.backend === b));
    this.note(`${why}; probing ${candidates.join(', ')} on ${runInfo.model}, batch ${runInfo.batchSize}`);
    store.update({ phase: 'probing', detail: `probing ${candidates.join(', ')}`, probe: [...known] });
    const figures = await probeBackends(candidates, {
      model: runInfo.model,
      batchSize: runInfo.batchSize,
      onFigure: (figure) => store.update({ probe: [...(store.view.probe ?? []), figure] }),
    });
    const all = [...known, ...figures];
    this.ranking = rankBackends(all);
    store.update({ probe: all });
    const best = fastest(all);
    this.note(
      `probe (ms/step): ${formatProbe(all)}` +
        (best ? `; fastest: ${best.backend}` : '; nothing measured within the budgets'),
    );
    for (const backend of this.ranking) {
      if (this.failed.has(backend)) continue;
      if (await this.use(backend)) return;
      this.failed.add(backend);
    }
    throw new FatalError(`no TF.js backend can train in this browser (probe: ${formatProbe(all)})`);
  }

  /** Activates `backend` for training. False (with a note) when it cannot be used. */
  private async use(backend: BackendName): Promise<boolean> {
    const { store } = this.options;
    try {
      const detail = await activateBackend(backend);
      const adapterCheck = backend === 'webgpu' ? await inspectWebGpu() : null;
      this.current = backend;
      this.lost = null;
      this.watchDevice();
      store.update({
        backend,
        backendDetail: detail,
        adapter: adapterCheck?.available ? adapterCheck.adapter : null,
        failedBackends: [...this.failed],
      });
      this.note(`training on ${detail}`);
      return true;
    } catch (error) {
      this.note(messageOf(error));
      store.update({ failedBackends: [...this.failed, backend] });
      return false;
    }
  }

  private watchDevice(): void {
    const device = activeGpuDevice();
    this.watchedDevice = device;
    if (device === null) return;
    void device.lost.then((info) => {
      if (this.watchedDevice !== device || this.current !== 'webgpu') return;
      this.lost = `the WebGPU device was lost (${info.reason ?? 'unknown reason'}${info.message ? `: ${info.message}` : ''})`;
      this.note(this.lost);
      // The step in flight fails or finishes; either way the loop falls back next.
      this.options.onDeviceLost();
    });
  }

  /** The backend in use failed (`reason`): mark it, switch to the next fastest, say so. */
  async fallBack(reason: string): Promise<void> {
    const from = this.current;
    this.current = null;
    this.watchedDevice = null;
    this.lost = null;
    if (from !== null) this.failed.add(from);
    this.note(`${from ?? 'the backend'} failed: ${reason}; falling back`);
    this.options.store.update({
      failedBackends: [...this.failed],
      backend: null,
      backendDetail: null,
      adapter: null,
    });
    for (const backend of this.ranking ?? []) {
      if (this.failed.has(backend)) continue;
      if (await this.use(backend)) {
        this.note(`fell back from ${from} to ${backend}`);
        return;
      }
      this.failed.add(backend);
    }
    // Nothing measured to fall back on (the backend was forced or chosen without a probe): measure now.
    await this.probeAndPick(`${from} failed`, []);
    this.note(`fell back from ${from} to ${this.current}`);
  }

  /**
   * Decides whether an error came from the backend (null: it did not). A failed known-answer check is
   * the backend's; other hub refusals than NON_FINITE are the hub's; anything else (a throw inside
   * TF.js, a failed fetch, a NaN gradient) is checked by computing one gradient step on synthetic data
   * with the same model on the same backend.
   */
  async backendFault(error: unknown): Promise<string | null> {
    // The hub's own check of this backend's gradients: no doubt left, no step of our own needed.
    if (error instanceof HubRequestError && error.code === ErrorCode.KnownAnswerFailed) {
      return `the hub's known-answer check: ${error.message}`;
    }
    if (error instanceof HubRequestError && error.code !== ErrorCode.NonFinite) return null;
    const runInfo = this.runInfo;
    if (runInfo === null || this.current === null) return null;
    const probed = this.options.store.view.probe?.find((f) => f.backend === this.current)?.msPerStep;
    const budget = Math.max(CHECK_STEP_BUDGET_MS, 5 * (probed ?? 0));
    const model = buildModel(runInfo.model);
    let running: Promise<number> | null = null;
    try {
      const layout = layoutOfModel(model);
      const weights = await readFlatWeights(model, layout);
      running = benchmarkStep(model, layout, weights, syntheticExamples(runInfo.batchSize));
      const loss = await withTimeout(running, budget, () => 'timeout' as const);
      if (loss === 'timeout') return `a check step took over ${budget} ms after: ${messageOf(error)}`;
      if (!Number.isFinite(loss)) return `a check step gave loss ${loss} after: ${messageOf(error)}`;
      return null;
    } catch (checkError) {
      return `${messageOf(error)} (a check step failed too: ${messageOf(checkError)})`;
    } finally {
      void (running ?? Promise.resolve()).catch(() => undefined).then(() => model.dispose());
    }
  }

  /** What the hub shows for this tab: the device, and the probe's figures when one ran. */
  deviceReport(): string {
    const { view } = this.options.store;
    const probe = view.probe;
    const text = `${view.backendDetail ?? this.current}${probe ? `; probe ms/step: ${formatProbe(probe)}` : ''}`;
    return text.length <= DEVICE_MAX_CHARS ? text : `${text.slice(0, DEVICE_MAX_CHARS - 1)}…`;
  }

  private async fetchRunInfo(): Promise<RunInfo> {
    const url = new URL('/api/status', this.options.hubUrl);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    const status = (await response.json()) as { model?: { name?: unknown }; batchSize?: unknown };
    const model = status.model?.name;
    const batchSize = status.batchSize;
    if (typeof model !== 'string' || !isModelName(model) || typeof batchSize !== 'number') {
      throw new FatalError(`the hub's /api/status names a model this page does not know (${String(model)})`);
    }
    return { model, batchSize };
  }
}
