import type { LocalSettings } from '../shared/dashboardProtocol.js';
import type { ModelName } from '../shared/models.js';
import type { TrainingMode } from '../shared/protocol.js';
import type { RoundRecord, WorkerStatus } from './actors/coordinatorTypes.js';
import type { ShardStatus } from './actors/ShardActor.js';
import type { HubOptions } from './options.js';

export type RoundKind = RoundRecord['kind'];

/** A worker as /api/status lists it. */
export interface HubWorkerStatus {
  readonly id: string;
  /** The volunteer's public name, the same across its reconnects. */
  readonly volunteer: string;
  /** `--trust`: the volunteer's trust in [0, 1]; null without it. */
  readonly trust: number | null;
  /** `--spot-check`: pushes the hub recomputed that matched, and that did not. */
  readonly checks: { readonly verified: number; readonly failed: number };
  readonly backend: string;
  readonly device?: string;
  /** Accepted pushes: gradients, or weight changes in local mode. */
  readonly steps: number;
  readonly examples: number;
  readonly examplesPerSec: number;
  /** Local mode: inner steps behind the worker's last accepted weight change (0 before any). */
  readonly localSteps: number;
  /** Local mode: L2 norm of that change (null before any). */
  readonly changeNorm: number | null;
}

/** Sync and local rounds as /api/status reports them. */
export interface HubRoundsStatus {
  /** Rounds closed since the hub process started, by kind (a reset does not clear them). */
  readonly closed: Readonly<Record<RoundKind, number>>;
  /** The last round that closed, of either kind; null before any. */
  readonly last: {
    readonly id: number;
    readonly kind: RoundKind;
    /** Epoch ms. */
    readonly closedAt: number;
    readonly durationMs: number;
    /** Pushes combined: gradients (sync) or weight changes (local). */
    readonly pushes: number;
    readonly participants: number;
    /** Local: L2 norm of the combined change the outer optimizer applied. */
    readonly changeNorm?: number;
    /** Local: mean inner steps behind the round's changes. */
    readonly localSteps?: number;
  } | null;
}

/** What GET /api/status answers; /metrics serves the same figures. */
export interface HubStatus {
  readonly protocolVersion: number;
  readonly mode: TrainingMode;
  readonly model: { readonly name: ModelName; readonly params: number };
  readonly optimizer: string;
  /** The current learning rate (the operator may have changed it). */
  readonly learningRate: number;
  /** The operator paused training: workers wait, the weights stay. */
  readonly paused: boolean;
  readonly batchSize: number;
  readonly shards: readonly ShardStatus[];
  readonly globalStep: number;
  readonly examplesSeen: number;
  readonly pushesAccepted: number;
  /** Passes over the training set, from completed work units (fractional). */
  readonly epoch: number;
  /** Sync and local mode: the open round, if any. */
  readonly round: number | null;
  readonly rounds: HubRoundsStatus;
  /** Local mode only: its settings (absent in the other modes). */
  readonly local?: LocalSettings;
  readonly trainLoss: number | null;
  readonly testAccuracy: number | null;
  readonly testLoss: number | null;
  /** When the figures above were measured: the global step and examples seen of those weights. */
  readonly evaluation: {
    readonly globalStep: number;
    readonly examplesSeen: number;
    readonly examples: number;
    /** When it was measured (epoch ms); one carried over from a checkpoint keeps its own time. */
    readonly at: number;
  } | null;
  readonly examplesPerSec: number;
  /** Refused messages by error code since the hub started. */
  readonly refusals: Readonly<Record<string, number>>;
  readonly uptimeSec: number;
  readonly workers: readonly HubWorkerStatus[];
}

/** Local mode's settings from the hub's options (what the dashboard and /api/status say of them). */
export function localSettings(
  options: Pick<
    HubOptions,
    | 'localSteps'
    | 'roundSecs'
    | 'localBuffer'
    | 'outerOptimizer'
    | 'outerLr'
    | 'outerMomentum'
    | 'compressChanges'
  >,
): LocalSettings {
  return {
    localSteps: options.localSteps,
    roundSecs: options.roundSecs ?? null,
    localBuffer: options.localBuffer ?? null,
    outerOptimizer: options.outerOptimizer,
    outerLr: options.outerLr,
    outerMomentum: options.outerMomentum,
    compressChanges: options.compressChanges,
  };
}

/** The coordinator's workers as /api/status lists them (no refusals or timestamps: /metrics-sized). */
export function hubWorkers(workers: readonly WorkerStatus[]): HubWorkerStatus[] {
  return workers.map((w) => ({
    id: w.id,
    volunteer: w.volunteer,
    trust: w.trust,
    checks: w.checks,
    backend: w.backend,
    device: w.device,
    steps: w.steps,
    examples: w.examples,
    examplesPerSec: w.examplesPerSec,
    localSteps: w.localSteps,
    changeNorm: w.changeNorm,
  }));
}

/**
 * Counts closed rounds by kind. The coordinator keeps only its recent rounds (and resends them in
 * every status), so whoever reads them often counts the ones it has not seen: the DashboardFeed every
 * second, and /api/status when asked. Round ids rise through the run, resets and mode switches.
 */
export class RoundTally {
  private lastId = -Infinity;
  private readonly counts: Record<RoundKind, number> = { sync: 0, local: 0 };

  observe(recentRounds: readonly RoundRecord[]): void {
    for (const round of recentRounds) {
      if (round.id <= this.lastId) continue;
      this.counts[round.kind]++;
      this.lastId = round.id;
    }
  }

  get closed(): Readonly<Record<RoundKind, number>> {
    return { ...this.counts };
  }
}

/** The rounds part of the status, after counting the coordinator's recent rounds into `tally`. */
export function hubRounds(tally: RoundTally, recentRounds: readonly RoundRecord[]): HubRoundsStatus {
  tally.observe(recentRounds);
  const last = recentRounds.at(-1);
  const closed = tally.closed;
  if (last === undefined) return { closed, last: null };
  return {
    closed,
    last: {
      id: last.id,
      kind: last.kind,
      closedAt: last.closedAt,
      durationMs: last.durationMs,
      pushes: last.gradients,
      participants: last.participants,
      ...(last.changeNorm === undefined ? {} : { changeNorm: last.changeNorm }),
      ...(last.localSteps === undefined ? {} : { localSteps: last.localSteps }),
    },
  };
}
