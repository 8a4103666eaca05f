import { ErrorCode } from '../../shared/errors.js';
import { HubRequestError } from '../../shared/HubClient.js';
import { activeGpuDevice, messageOf, type BackendChoice } from './backends.js';
import { BackendChooser } from './BackendChooser.js';
import { FatalError } from './fatalError.js';
import { HubSession } from './HubSession.js';
import { retryDelayMs } from './retryBackoff.js';
import { SessionTally } from './sessionTally.js';
import { UNPACED, type StepPacer } from './stepPacer.js';
import { initialView, ViewStore, type Phase, type WorkerView } from './workerView.js';

// The view's types are imported from here by the tests, the bench and the page.
export type { Phase, WorkerEvent, WorkerView } from './workerView.js';

export interface BrowserWorkerOptions {
  /** The hub's base URL; the page's own origin when the hub serves it. */
  readonly hubUrl: string;
  readonly choice: BackendChoice;
  /** Awaited between steps: the volunteer's duty cycle (limits/DutyPacer.ts); default none. */
  readonly pacer?: StepPacer;
  /** The display name to give the hub at each hello; null for none. */
  readonly displayName?: () => string | null;
}

const PAUSED_DETAIL = 'left the hub; Resume joins again';
const FROZEN_DETAIL = 'the browser froze this tab: left the hub; joins again when the tab is resumed';

/**
 * The tab's worker: has a backend chosen (BackendChooser), then runs the shared GradientWorker loop
 * against the hub, reconnecting with backoff when the hub goes away and falling back to the next
 * backend when the one in use breaks. Pausing leaves the hub (so a sync round never waits for a paused
 * tab); resuming joins again. A limit the volunteer set (limits/) holds the tab the same way, for as
 * long as it says. The page's lifecycle does the same: a tab the browser freezes leaves the hub and
 * joins again when it is resumed; a hidden tab that is not frozen keeps training (yieldToPage does not
 * wait for frames it will not get).
 */
export class BrowserWorker {
  private readonly options: BrowserWorkerOptions;
  private readonly store: ViewStore;
  private readonly chooser: BackendChooser;
  private readonly tally = new SessionTally();
  private readonly pacer: StepPacer;
  private paused = false;
  /** The browser froze the page (Page Lifecycle `freeze`); cleared by `resume`. */
  private frozen = false;
  /** Why a limit keeps the tab out of the hub (e.g. "on battery at 15%"); null when none does. */
  private held: string | null = null;
  /**
   * Pauses, holds, freezes and rejoins so far. A session cut short by one ends in an error (its
   * requests fail on the closed client) that may surface only after the tab is back: not the hub's
   * fault, no backoff.
   */
  private suspensions = 0;
  /** When the tab was last hidden (performance.now()) and the steps it had then; null while visible. */
  private hiddenSince: { readonly at: number; readonly steps: number } | null = null;
  private left = false;
  private started = false;
  private wakeUp: (() => void) | null = null;
  private session: HubSession | null = null;

  constructor(options: BrowserWorkerOptions) {
    this.options = options;
    this.pacer = options.pacer ?? UNPACED;
    this.store = new ViewStore(initialView(options.hubUrl, options.choice));
    this.chooser = new BackendChooser({
      hubUrl: options.hubUrl,
      choice: options.choice,
      store: this.store,
      onDeviceLost: () => this.session?.stop(),
    });
  }

  readonly subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);
  readonly getSnapshot = (): WorkerView => this.store.getSnapshot();

  private get view(): WorkerView {
    return this.store.view;
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
    this.leaveHub('paused', PAUSED_DETAIL);
  }

  resume(): void {
    if (!this.paused || this.left) return;
    this.paused = false;
    this.note(this.held === null ? 'resumed' : `resumed, but still paused: ${this.held}`);
    this.wake();
  }

  /**
   * A limit the volunteer set says the tab must stop (`reason`, shown as "paused: <reason>") or may
   * go on (null). Stopping leaves the hub, as a pause does: a hold may last hours (a battery), and
   * the hub should neither wait for this tab's round nor keep its work unit meanwhile.
   */
  hold(reason: string | null): void {
    const before = this.held;
    this.held = reason;
    if (reason === before || this.left || this.view.phase === 'failed') return;
    if (reason === null) {
      this.note(`resumed (it was paused: ${before})`);
      this.wake();
      return;
    }
    if (before !== null || this.paused || this.frozen) {
      // Already out of the hub: only the reason shown changes (a battery level going down, ...).
      if (this.view.phase === 'held') this.store.update({ detail: reason });
      if (before === null) this.note(`paused: ${reason}`);
      return;
    }
    this.suspensions++;
    this.note(`paused: ${reason}; left the hub until that changes`);
    this.leaveHub('held', reason);
  }

  /** Joins the hub again now (a new display name goes with the next hello); nothing when not joined. */
  rejoin(why: string): void {
    if (this.session === null) return;
    this.suspensions++;
    this.note(why);
    this.closeSession();
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
    if (this.paused || this.held !== null) return; // already out of the hub
    this.suspensions++;
    this.note('frozen by the browser: left the hub until the tab is resumed');
    this.leaveHub('frozen', FROZEN_DETAIL);
  }

  /** The browser resumed a frozen page (the `resume` event): join the hub again. */
  unfreeze(): void {
    if (!this.frozen || this.left) return;
    this.frozen = false;
    if (this.paused || this.held !== null || this.view.phase === 'failed') return;
    this.note('resumed by the browser: joining the hub again');
    this.wake();
  }

  /**
   * The tab was hidden or shown. Nothing changes but the log: a hidden tab keeps training (and keeps
   * its lease); a tab the browser stops altogether is frozen first, or else the hub's lease timeout
   * hands its unit to someone else. (A volunteer who asked to train only while away: limits/presence.ts.)
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
    this.store.update({ phase: 'left', detail: 'left the hub', workerId: null, examplesPerSec: 0 });
    this.wake();
  }

  /** Destroys the WebGPU device in use, as a lost GPU would (for tests). False when not on WebGPU. */
  loseDevice(): boolean {
    const device = activeGpuDevice();
    if (device === null) return false;
    device.destroy();
    return true;
  }

  /** Out of the hub on purpose: paused by the person, held by a limit, or frozen by the browser. */
  private get suspended(): boolean {
    return this.paused || this.frozen || this.held !== null;
  }

  /** What a suspended tab shows: a pause first (the person's own), then a limit, then a freeze. */
  private suspendedPhase(): { phase: Phase; detail: string } {
    if (this.paused) return { phase: 'paused', detail: PAUSED_DETAIL };
    if (this.held !== null) return { phase: 'held', detail: this.held };
    return { phase: 'frozen', detail: FROZEN_DETAIL };
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
        // A pause, hold or freeze that came during a probe or a connect: the loop only now stands still.
        const { phase, detail } = this.suspendedPhase();
        if (this.view.phase !== phase || this.view.detail !== detail) {
          this.store.update({ phase, detail, workerId: null, examplesPerSec: 0 });
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
          await this.chooser.fallBack(reason);
        }
        if (this.chooser.backend === null) await this.chooser.choose();
        if (this.interrupted(suspensions)) continue;
        await this.trainOnce(() => (attempt = 0));
        if (this.interrupted(suspensions)) continue;
        if (this.chooser.deviceLost !== null) {
          fallbackReason = this.chooser.deviceLost;
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
        fallbackReason = this.chooser.deviceLost ?? (await this.chooser.backendFault(error));
        if (fallbackReason === null) await this.backoff(++attempt, messageOf(error));
      }
    }
  }

  /** One connection to the hub, trained on until it ends (stop, pause, error, hub gone). */
  private async trainOnce(onProgress: () => void): Promise<void> {
    const backend = this.chooser.backend;
    if (backend === null) throw new Error('no backend chosen');
    const session = await HubSession.open(
      {
        hubUrl: this.options.hubUrl,
        store: this.store,
        chooser: this.chooser,
        tally: this.tally,
        pacer: this.pacer,
        displayName: () => this.options.displayName?.() ?? null,
        wanted: () => !this.left && !this.suspended,
        onProgress,
      },
      backend,
    );
    if (session === null) return;
    this.session = session;
    try {
      await session.run();
    } finally {
      if (this.session === session) this.session = null;
    }
  }

  private async backoff(attempt: number, reason: string): Promise<void> {
    const delay = retryDelayMs(attempt);
    this.note(`${reason}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.store.update({
      phase: 'reconnecting',
      detail: `${reason}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt})`,
      workerId: null,
      examplesPerSec: 0,
    });
    await this.sleep(delay);
  }

  /** Out of the hub now, showing `phase`; the loop stands still until woken. */
  private leaveHub(phase: Phase, detail: string): void {
    this.store.update({ phase, detail, workerId: null, examplesPerSec: 0 });
    this.closeSession();
    this.wake();
  }

  private closeSession(): void {
    const session = this.session;
    this.session = null;
    session?.close();
    // A duty-cycle sleep in progress would only delay the goodbye's effects: end it.
    this.pacer.interrupt();
  }

  private fail(message: string): void {
    this.note(`stopped: ${message}`);
    this.store.update({ phase: 'failed', detail: message });
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
    this.store.note(text);
  }
}
