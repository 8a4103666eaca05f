import * as tf from '@tensorflow/tfjs';
import { assertNever } from '../../shared/assertNever.js';
import { ErrorCode } from '../../shared/errors.js';
import { GradientWorker, type StepReport } from '../../shared/GradientWorker.js';
import { HubClient, HubRequestError } from '../../shared/HubClient.js';
import { layoutOfModel } from '../../shared/layout.js';
import { buildModel, isModelName, type ModelName } from '../../shared/models.js';
import type { TrainingMode } from '../../shared/protocol.js';
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
  type GpuAdapterReport,
  type GpuDeviceLike,
} from './backends.js';
import {
  benchmarkStep,
  fastest,
  formatProbe,
  probeBackends,
  rankBackends,
  syntheticExamples,
  type ProbeFigure,
} from './probe.js';
import { syncReadsOnWebGpuCount } from './syncReadGuard.js';
import { loadIdentity, saveIdentity } from './volunteerIdentity.js';
import { yieldToPage } from './yieldToPage.js';

export type Phase =
  | 'starting'
  | 'probing'
  | 'connecting'
  | 'training'
  | 'paused'
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
  /** One line on what is happening now (an error, the next retry, ...). */
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
  /** Over the last RATE_WINDOW_MS of training. */
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

export interface BrowserWorkerOptions {
  /** The hub's base URL; the page's own origin when the hub serves it. */
  readonly hubUrl: string;
  readonly choice: BackendChoice;
}

/** The run parameters the probe needs before the tab joins (read from GET /api/status). */
interface RunInfo {
  readonly model: ModelName;
  readonly batchSize: number;
}

/** An error after which retrying cannot help: shown on the page, the loop stops. */
class FatalError extends Error {
  override name = 'FatalError';
}

const PAUSED_DETAIL = 'left the hub; Resume joins again';
const FROZEN_DETAIL = 'the browser froze this tab: left the hub; joins again when the tab is resumed';
const RATE_WINDOW_MS = 10_000;
const MAX_EVENTS = 30;
const MAX_TENSOR_SAMPLES = 30;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** The hello `device` field's limit (shared/protocol.ts). */
const DEVICE_MAX_CHARS = 200;
/** A check step on a backend that threw may take this long, or 5x its probed step. */
const CHECK_STEP_BUDGET_MS = 15_000;

/**
 * The tab's worker: picks the backend (forced, WebGPU on a real adapter, or the fastest by a probe),
 * then runs the shared GradientWorker loop against the hub, reconnecting with backoff when the hub goes
 * away and falling back to the next backend when the one in use breaks. Pausing leaves the hub (so a
 * sync round never waits for a paused tab); resuming joins again. The page's lifecycle does the same:
 * a tab the browser freezes leaves the hub and joins again when it is resumed; a hidden tab that is not
 * frozen keeps training (yieldToPage does not wait for frames it will not get).
 */
export class BrowserWorker {
  private readonly options: BrowserWorkerOptions;
  private view: WorkerView;
  private readonly listeners = new Set<() => void>();
  private paused = false;
  /** The browser froze the page (Page Lifecycle `freeze`); cleared by `resume`. */
  private frozen = false;
  /**
   * Pauses and freezes so far. A session cut short by one ends in an error (its requests fail on the
   * closed client) that may surface only after the tab is back: not the hub's fault, no backoff.
   */
  private suspensions = 0;
  /** When the tab was last hidden (performance.now()) and the steps it had then; null while visible. */
  private hiddenSince: { readonly at: number; readonly steps: number } | null = null;
  private left = false;
  private started = false;
  private wakeUp: (() => void) | null = null;
  private session: { readonly client: HubClient; readonly worker: GradientWorker } | null = null;
  private backend: BackendName | null = null;
  /** Fastest first, from the last probe; null when no probe ran. */
  private ranking: BackendName[] | null = null;
  private readonly failed = new Set<BackendName>();
  private runInfo: RunInfo | null = null;
  /** Set when the GPU device behind the webgpu backend is lost. */
  private deviceLost: string | null = null;
  private watchedDevice: GpuDeviceLike | null = null;
  private readonly rate: { at: number; examples: number }[] = [];
  private rateSince = 0;
  /** Totals before the current connection: GradientWorker counts per connection. */
  private sessionBase = { steps: 0, examples: 0 };

  constructor(options: BrowserWorkerOptions) {
    this.options = options;
    this.view = {
      phase: 'starting',
      detail: 'starting',
      hub: options.hubUrl,
      choice: options.choice,
      backend: null,
      backendDetail: null,
      adapter: null,
      probe: null,
      failedBackends: [],
      workerId: null,
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

  start(): void {
    if (this.started) return;
    this.started = true;
    this.loop().catch((error: unknown) => this.fail(`unexpected error: ${messageOf(error)}`));
  }

  /** Leaves the hub after the current step and waits for resume(). */
  pause(): void {
    if (this.paused || this.left || this.view.phase === 'failed') return;
    this.paused = true;
    this.suspensions++;
    this.note('paused: left the hub until resumed');
    this.update({ phase: 'paused', detail: PAUSED_DETAIL, workerId: null, examplesPerSec: 0 });
    this.closeSession();
    this.wake();
  }

  resume(): void {
    if (!this.paused || this.left) return;
    this.paused = false;
    this.note('resumed');
    this.wake();
  }

  /**
   * The browser is freezing the page (the `freeze` event): no task will run until it is resumed, so a
   * step in flight could neither finish nor be pushed, and a connected socket would hold its work unit
   * until the hub's lease timeout. Leave now: the goodbye goes out before the page stops, the hub puts
   * the unit back in the pool at once, and the step is abandoned (its push fails on the closed client).
   */
  freeze(): void {
    if (this.frozen || this.left || this.view.phase === 'failed') return;
    this.frozen = true;
    if (this.paused) return; // already out of the hub
    this.suspensions++;
    this.note('frozen by the browser: left the hub until the tab is resumed');
    this.update({ phase: 'frozen', detail: FROZEN_DETAIL, workerId: null, examplesPerSec: 0 });
    this.closeSession();
    this.wake();
  }

  /** The browser resumed a frozen page (the `resume` event): join the hub again. */
  unfreeze(): void {
    if (!this.frozen || this.left) return;
    this.frozen = false;
    if (this.paused || this.view.phase === 'failed') return;
    this.note('resumed by the browser: joining the hub again');
    this.wake();
  }

  /**
   * The tab was hidden or shown. Nothing changes but the log: a hidden tab keeps training (and keeps
   * its lease); a tab the browser stops altogether is frozen first, or else the hub's lease timeout
   * hands its unit to someone else.
   */
  visibilityChanged(hidden: boolean): void {
    if (this.left || this.view.phase === 'failed') return;
    if (hidden) {
      this.hiddenSince = { at: performance.now(), steps: this.view.steps };
      this.note('tab hidden: training goes on in the background');
      return;
    }
    const since = this.hiddenSince;
    this.hiddenSince = null;
    if (since === null) return;
    const seconds = (performance.now() - since.at) / 1000;
    this.note(
      `tab visible again after ${seconds.toFixed(0)} s hidden, ${this.view.steps - since.steps} steps trained meanwhile`,
    );
  }

  /** The page is going away (pagehide): say goodbye to the hub now. */
  leave(): void {
    if (this.left) return;
    this.left = true;
    this.closeSession();
    this.update({ phase: 'left', detail: 'left the hub', workerId: null, examplesPerSec: 0 });
    this.wake();
  }

  /** Destroys the WebGPU device in use, as a lost GPU would (for tests). False when not on WebGPU. */
  loseDevice(): boolean {
    const device = activeGpuDevice();
    if (device === null) return false;
    device.destroy();
    return true;
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): WorkerView => this.view;

  /** Out of the hub on purpose: paused by the person, or frozen by the browser. */
  private get suspended(): boolean {
    return this.paused || this.frozen;
  }

  /**
   * Whether what the loop started when `suspensions` was read was cut short on purpose: the tab left,
   * is suspended, or was suspended (and maybe resumed) meanwhile. A freeze stops the page between two
   * tasks, so the step it interrupted fails only after the resume (e.g. "pull: the client is closed").
   */
  private interrupted(suspensions: number): boolean {
    return this.left || this.suspended || this.suspensions !== suspensions;
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    // Why the backend in use must be replaced, when it must (set by a failure, acted on in the try).
    let fallbackReason: string | null = null;
    while (!this.left) {
      if (this.suspended) {
        // A pause or a freeze that came during a probe or a connect: the loop only now stands still.
        const phase = this.paused ? 'paused' : 'frozen';
        if (this.view.phase !== phase) {
          const detail = this.paused ? PAUSED_DETAIL : FROZEN_DETAIL;
          this.update({ phase, detail, workerId: null, examplesPerSec: 0 });
        }
        await this.sleep(Infinity);
        // Whatever failed while suspended (a connect, a backoff) is not a reason to wait now.
        attempt = 0;
        continue;
      }
      const suspensions = this.suspensions;
      try {
        if (fallbackReason !== null) {
          const reason = fallbackReason;
          fallbackReason = null;
          await this.fallBack(reason);
        }
        if (this.backend === null) await this.chooseBackend();
        if (this.interrupted(suspensions)) continue;
        await this.trainOnce(() => (attempt = 0));
        if (this.interrupted(suspensions)) continue;
        if (this.deviceLost !== null) {
          fallbackReason = this.deviceLost;
          continue;
        }
        await this.backoff(++attempt, 'the hub closed the connection');
      } catch (error) {
        if (this.interrupted(suspensions)) continue;
        if (error instanceof FatalError) {
          this.fail(error.message);
          return;
        }
        if (error instanceof HubRequestError && error.code === ErrorCode.ProtocolMismatch) {
          this.fail(error.message);
          return;
        }
        fallbackReason = this.deviceLost ?? (await this.backendFault(error));
        if (fallbackReason === null) await this.backoff(++attempt, messageOf(error));
      }
    }
  }

  /** One connection to the hub, trained on until it ends (stop, pause, error, hub gone). */
  private async trainOnce(onProgress: () => void): Promise<void> {
    const backend = this.backend;
    if (backend === null) throw new Error('no backend chosen');
    this.update({ phase: 'connecting', detail: `connecting to ${this.options.hubUrl}` });
    // reconnect: as the Node worker, the client rides out a dropped connection by itself (socket.io
    // backoff, hello again, in-flight requests retried under the same push id). The loop's own backoff
    // covers what it gives up on: a first connection that fails, or a session that ends for good.
    const client = await HubClient.connect({
      url: this.options.hubUrl,
      backend,
      device: this.deviceReport(),
      reconnect: true,
      identity: loadIdentity(this.options.hubUrl),
    });
    saveIdentity(this.options.hubUrl, client.identity);
    if (this.left || this.suspended) {
      client.close();
      return;
    }
    const { config } = client;
    let worker: GradientWorker;
    try {
      worker = new GradientWorker({
        client,
        onStep: (report) => {
          onProgress();
          this.onStep(report);
        },
        onRefused: () => this.update({ refused: this.view.refused + 1 }),
        onKnownAnswer: ({ cosine, normRatio, ms }) =>
          this.note(
            `${backend} passed the hub's known-answer check (cosine ${cosine.toFixed(4)}, norm ratio ${normRatio.toFixed(3)}) in ${Math.round(ms)} ms`,
          ),
        yieldBetweenSteps: yieldToPage,
      });
    } catch (error) {
      client.close();
      throw new FatalError(messageOf(error));
    }
    this.session = { client, worker };
    client.onStateChange((state, detail) => {
      if (this.session?.client !== client) return;
      switch (state) {
        case 'reconnecting':
          this.note(`lost the hub (${detail}); reconnecting`);
          this.update({
            phase: 'reconnecting',
            detail: `lost the hub (${detail}); reconnecting with backoff`,
            workerId: null,
            examplesPerSec: 0,
          });
          break;
        case 'connected':
          this.note(`${detail} on ${backend}`);
          this.restartRate();
          this.update({
            phase: 'training',
            detail: `training on ${backend}`,
            workerId: client.workerId,
            connections: this.view.connections + 1,
          });
          break;
        case 'closed':
          this.note(`the connection to the hub ended (${detail})`);
          worker.stop();
          break;
        default:
          assertNever(state);
      }
    });
    this.runInfo = { model: config.model, batchSize: config.batchSize };
    this.restartRate();
    this.note(`joined the hub as ${client.workerId} on ${backend} (${config.mode} mode, ${config.model})`);
    this.update({
      phase: 'training',
      detail: `training on ${backend}`,
      workerId: client.workerId,
      connections: this.view.connections + 1,
      tensorsAfterStep: [],
      run: { mode: config.mode, model: config.model, params: config.params, batchSize: config.batchSize },
    });
    this.sessionBase = { steps: this.view.steps, examples: this.view.examples };
    try {
      await worker.run();
    } finally {
      if (this.session?.client === client) this.session = null;
      client.close();
    }
  }

  private restartRate(): void {
    this.rate.length = 0;
    this.rateSince = performance.now();
  }

  private onStep(report: StepReport): void {
    const now = performance.now();
    const examples = this.sessionBase.examples + report.examples;
    this.rate.push({ at: now, examples: examples - this.view.examples });
    while (this.rate.length > 0 && this.rate[0].at < now - RATE_WINDOW_MS) this.rate.shift();
    const windowMs = Math.min(RATE_WINDOW_MS, now - this.rateSince);
    const inWindow = this.rate.reduce((sum, r) => sum + r.examples, 0);
    this.update({
      steps: this.sessionBase.steps + report.steps,
      examples,
      globalStep: report.globalStep,
      loss: report.loss,
      examplesPerSec: windowMs > 0 ? (inWindow * 1000) / windowMs : 0,
      lastChange:
        report.localSteps === undefined
          ? null
          : {
              localSteps: report.localSteps,
              overlapSteps: report.overlapSteps ?? 0,
              changeNorm: report.changeNorm ?? 0,
            },
      tensorsAfterStep: [...this.view.tensorsAfterStep, tf.memory().numTensors].slice(-MAX_TENSOR_SAMPLES),
      syncReadsOnWebGpu: syncReadsOnWebGpuCount(),
    });
  }

  /** Forced, WebGPU on a real adapter, or the fastest of a probe. */
  private async chooseBackend(): Promise<void> {
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
    const runInfo = this.runInfo ?? (await this.fetchRunInfo());
    const order: BackendName[] = ['wasm', 'webgl', 'cpu', 'webgpu'];
    const candidates = order.filter((b) => !this.failed.has(b) && !known.some((k) => k.backend === b));
    this.note(`${why}; probing ${candidates.join(', ')} on ${runInfo.model}, batch ${runInfo.batchSize}`);
    this.update({ phase: 'probing', detail: `probing ${candidates.join(', ')}`, probe: [...known] });
    const figures = await probeBackends(candidates, {
      model: runInfo.model,
      batchSize: runInfo.batchSize,
      onFigure: (figure) => {
        this.update({ probe: [...(this.view.probe ?? []), figure] });
      },
    });
    const all = [...known, ...figures];
    this.ranking = rankBackends(all);
    this.update({ probe: all });
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
    try {
      const detail = await activateBackend(backend);
      const adapterCheck = backend === 'webgpu' ? await inspectWebGpu() : null;
      this.backend = backend;
      this.deviceLost = null;
      this.watchDevice();
      this.update({
        backend,
        backendDetail: detail,
        adapter: adapterCheck?.available ? adapterCheck.adapter : null,
        failedBackends: [...this.failed],
      });
      this.note(`training on ${detail}`);
      return true;
    } catch (error) {
      this.note(messageOf(error));
      this.update({ failedBackends: [...this.failed, backend] });
      return false;
    }
  }

  private watchDevice(): void {
    const device = activeGpuDevice();
    this.watchedDevice = device;
    if (device === null) return;
    void device.lost.then((info) => {
      if (this.watchedDevice !== device || this.backend !== 'webgpu') return;
      this.deviceLost = `the WebGPU device was lost (${info.reason ?? 'unknown reason'}${info.message ? `: ${info.message}` : ''})`;
      this.note(this.deviceLost);
      // The step in flight fails or finishes; either way the loop falls back next.
      this.session?.worker.stop();
    });
  }

  /** The backend in use failed (`reason`): mark it, switch to the next fastest, say so. */
  private async fallBack(reason: string): Promise<void> {
    const from = this.backend;
    this.backend = null;
    this.watchedDevice = null;
    this.deviceLost = null;
    if (from !== null) this.failed.add(from);
    this.note(`${from ?? 'the backend'} failed: ${reason}; falling back`);
    this.update({ failedBackends: [...this.failed], backend: null, backendDetail: null, adapter: null });
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
    this.note(`fell back from ${from} to ${this.backend}`);
  }

  /**
   * Decides whether an error came from the backend (null: it did not). A failed known-answer check is
   * the backend's; other hub refusals than NON_FINITE are the hub's; anything else (a throw inside TF.js, a failed fetch, a NaN gradient) is
   * checked by computing one gradient step on synthetic data with the same model on the same backend.
   */
  private async backendFault(error: unknown): Promise<string | null> {
    // The hub's own check of this backend's gradients: no doubt left, no step of our own needed.
    if (error instanceof HubRequestError && error.code === ErrorCode.KnownAnswerFailed) {
      return `the hub's known-answer check: ${error.message}`;
    }
    if (error instanceof HubRequestError && error.code !== ErrorCode.NonFinite) return null;
    const runInfo = this.runInfo;
    if (runInfo === null || this.backend === null) return null;
    const probed = this.view.probe?.find((f) => f.backend === this.backend)?.msPerStep;
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

  private async backoff(attempt: number, reason: string): Promise<void> {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1));
    // Jitter, so that many tabs of one restarted hub do not all knock at the same instant.
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.note(`${reason}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.update({
      phase: 'reconnecting',
      detail: `${reason}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt})`,
      workerId: null,
      examplesPerSec: 0,
    });
    await this.sleep(delay);
  }

  /** What the hub shows for this tab: the device, and the probe's figures when one ran. */
  private deviceReport(): string {
    const probe = this.view.probe;
    const text = `${this.view.backendDetail ?? this.backend}${probe ? `; probe ms/step: ${formatProbe(probe)}` : ''}`;
    return text.length <= DEVICE_MAX_CHARS ? text : `${text.slice(0, DEVICE_MAX_CHARS - 1)}…`;
  }

  private closeSession(): void {
    const session = this.session;
    this.session = null;
    session?.worker.stop();
    session?.client.close();
  }

  private fail(message: string): void {
    this.note(`stopped: ${message}`);
    this.update({ phase: 'failed', detail: message });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.wake(), ms) : undefined;
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = null;
    wakeUp?.();
  }

  private note(text: string): void {
    this.update({ events: [...this.view.events, { at: Date.now(), text }].slice(-MAX_EVENTS) });
  }

  private update(patch: Partial<WorkerView>): void {
    this.view = { ...this.view, ...patch };
    for (const listener of this.listeners) listener();
  }
}
