import { assertNever } from '../../shared/assertNever.js';
import { GradientWorker } from '../../shared/GradientWorker.js';
import { HubClient, type HubClientOptions } from '../../shared/HubClient.js';
import { messageOf, type BackendName } from './backends.js';
import type { BackendChooser } from './BackendChooser.js';
import { FatalError } from './fatalError.js';
import type { SessionTally } from './sessionTally.js';
import type { StepPacer } from './stepPacer.js';
import { loadIdentity, saveIdentity } from './volunteerIdentity.js';
import type { ViewStore } from './workerView.js';

/** What a session reads and writes of the tab's worker. */
export interface SessionContext {
  readonly hubUrl: string;
  readonly store: ViewStore;
  readonly chooser: BackendChooser;
  readonly tally: SessionTally;
  readonly pacer: StepPacer;
  /** The display name for the hello; null for none. */
  readonly displayName: () => string | null;
  /** False once the tab no longer wants this connection (it left, or was paused meanwhile). */
  readonly wanted: () => boolean;
  /** An accepted push: the loop's backoff starts over. */
  readonly onProgress: () => void;
}

/**
 * One connection to the hub and the GradientWorker trained on it, shown in the view as it goes:
 * joining, the client's own reconnects (socket.io backoff, hello again, requests retried under the
 * same push id), and the accepted steps.
 */
export class HubSession {
  private closed = false;

  private constructor(
    private readonly ctx: SessionContext,
    private readonly client: HubClient,
    private readonly worker: GradientWorker,
    private readonly backend: BackendName,
  ) {}

  /** Connects and says hello; null when the tab stopped wanting the connection meanwhile. */
  static async open(ctx: SessionContext, backend: BackendName): Promise<HubSession | null> {
    ctx.store.update({ phase: 'connecting', detail: `connecting to ${ctx.hubUrl}` });
    const client = await HubClient.connect(clientOptions(ctx, backend));
    saveIdentity(ctx.hubUrl, client.identity);
    if (!ctx.wanted()) {
      client.close();
      return null;
    }
    let worker: GradientWorker;
    try {
      worker = new GradientWorker({
        client,
        onStep: (report) => {
          ctx.onProgress();
          ctx.store.update(ctx.tally.onStep(ctx.store.view, report));
        },
        onRefused: () => ctx.store.update({ refused: ctx.store.view.refused + 1 }),
        onKnownAnswer: ({ cosine, normRatio, ms }) =>
          ctx.store.note(
            `${backend} passed the hub's known-answer check (cosine ${cosine.toFixed(4)}, norm ratio ${normRatio.toFixed(3)}) in ${Math.round(ms)} ms`,
          ),
        yieldBetweenSteps: ctx.pacer.between,
      });
    } catch (error) {
      client.close();
      throw new FatalError(messageOf(error));
    }
    return new HubSession(ctx, client, worker, backend);
  }

  /** Trains until the connection ends for good, the worker stops, or close(). */
  async run(): Promise<void> {
    const { ctx, client, worker, backend } = this;
    const { store, tally, pacer } = ctx;
    const { config } = client;
    client.onStateChange((state, detail) => this.onConnection(state, detail));
    ctx.chooser.runInfo = { model: config.model, batchSize: config.batchSize };
    tally.restartRate();
    pacer.restart();
    store.note(`joined the hub as ${client.workerId} on ${backend} (${config.mode} mode, ${config.model})`);
    store.update({
      phase: 'training',
      detail: `training on ${backend}`,
      workerId: client.workerId,
      volunteer: client.volunteer,
      connections: store.view.connections + 1,
      tensorsAfterStep: [],
      run: { mode: config.mode, model: config.model, params: config.params, batchSize: config.batchSize },
    });
    tally.startSession(store.view);
    try {
      await worker.run();
    } finally {
      this.close();
    }
  }

  /** Stops after the current step and closes the connection; the view no longer follows it. */
  close(): void {
    this.closed = true;
    this.worker.stop();
    this.client.close();
  }

  /** Stops after the current step (the GPU device was lost): run() ends, the loop falls back. */
  stop(): void {
    this.worker.stop();
  }

  private onConnection(state: 'connected' | 'reconnecting' | 'closed', detail: string): void {
    if (this.closed) return;
    const { store, tally, pacer } = this.ctx;
    switch (state) {
      case 'reconnecting':
        store.note(`lost the hub (${detail}); reconnecting`);
        store.update({
          phase: 'reconnecting',
          detail: `lost the hub (${detail}); reconnecting with backoff`,
          workerId: null,
          examplesPerSec: 0,
        });
        break;
      case 'connected':
        store.note(`${detail} on ${this.backend}`);
        tally.restartRate();
        pacer.restart();
        store.update({
          phase: 'training',
          detail: `training on ${this.backend}`,
          workerId: this.client.workerId,
          connections: store.view.connections + 1,
        });
        break;
      case 'closed':
        store.note(`the connection to the hub ended (${detail})`);
        this.worker.stop();
        break;
      default:
        assertNever(state);
    }
  }
}

/**
 * reconnect: as the Node worker, the client rides out a dropped connection by itself. The tab's loop
 * covers what it gives up on: a first connection that fails, or a session that ends for good.
 */
function clientOptions(ctx: SessionContext, backend: BackendName): HubClientOptions {
  return {
    url: ctx.hubUrl,
    backend,
    device: ctx.chooser.deviceReport(),
    reconnect: true,
    identity: loadIdentity(ctx.hubUrl),
    name: ctx.displayName() ?? undefined,
  };
}
