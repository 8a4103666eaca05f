import type { Namespace, Server } from 'socket.io';
import {
  DASHBOARD_NAMESPACE,
  type DashboardClientEvents,
  type DashboardHistory,
  type DashboardServerEvents,
  type DashboardUpdate,
  type HistoryPoint,
  type RunInfo,
  type SampleDigits,
} from '../../shared/dashboardProtocol.js';
import type { ParameterLayout } from '../../shared/layout.js';
import type { Coordinator } from '../actors/Coordinator.js';
import type { ShardRef } from '../actors/ShardRef.js';
import type { Evaluation } from '../evaluation/PeriodicEvaluation.js';
import { RoundTally } from '../hubStatus.js';
import type { ShardTraffic } from '../metrics/ShardTraffic.js';
import { DownsampledHistory } from './DownsampledHistory.js';
import { firstLayerImages, histograms, l2Norms } from './parameterViews.js';

/** Points the dashboard keeps for a run of any length (DownsampledHistory). */
const HISTORY_POINTS = 600;

export interface DashboardFeedOptions {
  readonly io: Server;
  readonly run: RunInfo;
  readonly layout: ParameterLayout;
  readonly samples: SampleDigits;
  /** Read through its status only. */
  readonly coordinator: Pick<Coordinator, 'status'>;
  readonly shards: readonly ShardRef[];
  readonly shardOffsets: readonly number[];
  readonly traffic: ShardTraffic;
  readonly latestEvaluation: () => Evaluation | null;
  /** One update per interval (about 1 s: viewers want motion, not every push). */
  readonly intervalMs: number;
  /** Histograms and filter images are heavier: recomputed at most this often. */
  readonly parameterViewsEveryMs: number;
  readonly onError: (error: unknown) => void;
  /** History carried over from a checkpoint. */
  readonly history?: readonly HistoryPoint[];
}

interface Previous {
  readonly at: number;
  readonly examplesSeen: number;
  readonly pushesAccepted: number;
  readonly globalStep: number;
  readonly versions: readonly number[];
  readonly norms: readonly number[];
}

/** One message to every viewer, as `onBroadcast` hands it on. */
export type DashboardBroadcast =
  | { readonly event: 'dashboard:history'; readonly payload: DashboardHistory }
  | { readonly event: 'dashboard:update'; readonly payload: DashboardUpdate };

/**
 * Feeds the read-only `/dashboard` namespace. Every interval it samples the run (counters, shard
 * versions, weight norms) into a bounded, downsampled history and sends viewers one update; a viewer
 * that connects gets the whole history at once. It reads the actors through their messages and never
 * touches the push path.
 */
export class DashboardFeed {
  private readonly options: DashboardFeedOptions;
  private readonly namespace: Namespace<DashboardClientEvents, DashboardServerEvents>;
  private history = new DownsampledHistory<HistoryPoint>(HISTORY_POINTS);
  private run: RunInfo;
  private readonly timer: ReturnType<typeof setInterval>;
  private previous: Previous | null = null;
  private latest: DashboardUpdate | null = null;
  private latestViews: Pick<DashboardUpdate, 'histograms' | 'filters'> = {};
  private lastParameterViewsAt = -Infinity;
  private lastParameterViewsStep = -1;
  private ticking = false;
  private readonly listeners = new Set<(broadcast: DashboardBroadcast) => void>();
  /**
   * Closed rounds by kind since the hub started. The coordinator keeps only its recent rounds; the
   * feed reads them every second, so it counts them (/api/status and /metrics read this tally).
   */
  readonly roundTally = new RoundTally();

  constructor(options: DashboardFeedOptions) {
    this.options = options;
    this.run = options.run;
    for (const point of options.history ?? []) this.history.add(point);
    this.namespace = options.io.of(DASHBOARD_NAMESPACE);
    this.namespace.on('connection', (socket) => {
      // Viewers are read-only (admin actions are the AdminChannel's): whatever else they send is ignored.
      socket.emit('dashboard:history', this.wholeHistory());
    });
    this.timer = setInterval(() => void this.tick(), options.intervalMs);
    this.timer.unref();
  }

  /** Takes one sample now (also what the timer does). */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const update = await this.sample();
      if (update.histograms) this.latestViews = { histograms: update.histograms, filters: update.filters };
      // A viewer that connects later gets the last parameter views too, even from a lighter update.
      this.latest = { ...update, ...this.latestViews };
      this.history.add(update.point);
      // volatile: a viewer that cannot keep up skips updates instead of queueing them.
      this.namespace.volatile.emit('dashboard:update', update);
      for (const listener of this.listeners) listener({ event: 'dashboard:update', payload: update });
    } catch (error) {
      this.options.onError(error);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * The operator changed the run (mode, learning rate) or started it over (`restarted`: the history
   * and the clock begin again). Every viewer gets the whole history anew, with the new settings.
   */
  runChanged(changes: Partial<Pick<RunInfo, 'mode' | 'learningRate'>>, restarted = false): void {
    this.run = { ...this.run, ...changes, ...(restarted ? { startedAt: Date.now() } : {}) };
    if (restarted) {
      this.history = new DownsampledHistory<HistoryPoint>(HISTORY_POINTS);
      this.previous = null;
      this.latest = null;
      this.latestViews = {};
      this.lastParameterViewsStep = -1;
    }
    const history = this.wholeHistory();
    this.namespace.emit('dashboard:history', history);
    for (const listener of this.listeners) listener({ event: 'dashboard:history', payload: history });
  }

  /**
   * Calls `listener` with everything sent to every viewer (the whole history anew, or an update):
   * what a `--role gateway` process relays to its own viewers. Returns a function that unsubscribes.
   */
  onBroadcast(listener: (broadcast: DashboardBroadcast) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What a viewer gets on connect. */
  wholeHistory(): DashboardHistory {
    return { run: this.run, points: this.history.all(), samples: this.options.samples, latest: this.latest };
  }

  /** The history so far, for a checkpoint. */
  historyPoints(): readonly HistoryPoint[] {
    return this.history.all();
  }

  close(): void {
    clearInterval(this.timer);
    this.namespace.disconnectSockets(true);
  }

  private async sample(): Promise<DashboardUpdate> {
    const { coordinator, shards, layout, traffic } = this.options;
    const run = this.run;
    const at = Date.now();
    const status = coordinator.status();
    this.roundTally.observe(status.recentRounds);
    const snapshots = await Promise.all(shards.map((shard) => shard.ask({ type: 'pull' })));
    const versions = snapshots.map((s) => s.version);
    const previous = this.previous;
    const changed = previous === null || previous.globalStep !== status.globalStep;
    let weights: Float32Array | null = null;
    const flat = (): Float32Array => {
      if (weights) return weights;
      weights = new Float32Array(layout.totalLength);
      snapshots.forEach((s, i) => weights!.set(s.weights, this.options.shardOffsets[i]));
      return weights;
    };
    const norms = changed ? l2Norms(layout, flat()) : previous.norms;
    const seconds = previous ? Math.max((at - previous.at) / 1000, 1e-3) : 1;
    const evaluation = this.options.latestEvaluation();
    const point: HistoryPoint = {
      t: (at - run.startedAt) / 1000,
      globalStep: status.globalStep,
      examplesSeen: status.examplesSeen,
      examplesPerSec: previous ? (status.examplesSeen - previous.examplesSeen) / seconds : 0,
      pushesPerSec: previous ? (status.pushesAccepted - previous.pushesAccepted) / seconds : 0,
      trainLoss: status.trainLoss,
      testAccuracy: evaluation?.accuracy ?? null,
      testLoss: evaluation?.loss ?? null,
      workers: status.workers.length,
      norms,
    };
    const wantViews =
      this.lastParameterViewsStep !== status.globalStep &&
      at - this.lastParameterViewsAt >= this.options.parameterViewsEveryMs;
    let views: Pick<DashboardUpdate, 'histograms' | 'filters'> = {};
    if (wantViews || this.latest === null) {
      views = {
        histograms: histograms(layout, flat()),
        filters: firstLayerImages(layout, flat()) ?? undefined,
      };
      this.lastParameterViewsAt = at;
      this.lastParameterViewsStep = status.globalStep;
    }
    this.previous = {
      at,
      examplesSeen: status.examplesSeen,
      pushesAccepted: status.pushesAccepted,
      globalStep: status.globalStep,
      versions,
      norms,
    };
    return {
      at,
      point,
      run: {
        globalStep: status.globalStep,
        examplesSeen: status.examplesSeen,
        epoch: status.epoch,
        round: status.round,
        testAccuracy: evaluation?.accuracy ?? null,
        testLoss: evaluation?.loss ?? null,
        trainLoss: status.trainLoss,
      },
      workers: status.workers.map((w) => ({
        id: w.id,
        volunteer: w.volunteer,
        trust: w.trust,
        checks: w.checks,
        backend: w.backend,
        device: w.device,
        examplesPerSec: w.examplesPerSec,
        steps: w.steps,
        credit: w.examples,
        localSteps: w.localSteps,
        changeNorm: w.changeNorm,
        refused: w.refused,
        connectedAt: w.connectedAt,
        lastSeen: w.lastSeen,
      })),
      shards: shards.map((shard, i) => ({
        index: shard.index,
        offset: this.options.shardOffsets[i],
        length: snapshots[i].weights.length,
        version: versions[i],
        updatesPerSec: previous ? (versions[i] - previous.versions[i]) / seconds : 0,
        bytesIn: traffic.bytesIn[i],
        bytesOut: traffic.bytesOut[i],
      })),
      refusals: status.refusals,
      staleness: status.staleness,
      rounds: status.recentRounds.map((r) => ({
        id: r.id,
        kind: r.kind,
        durationMs: r.durationMs,
        gradients: r.gradients,
        participants: r.participants,
        changeNorm: r.changeNorm ?? null,
        localSteps: r.localSteps ?? null,
      })),
      events: status.recentEvents,
      ...views,
      predictions: evaluation?.predictions ?? null,
    };
  }
}
