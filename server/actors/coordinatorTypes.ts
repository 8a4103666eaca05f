import type { VolunteerCreditState } from './VolunteerCredit.js';
import type { VolunteerTrustState } from './VolunteerTrust.js';
import type { LocalRoundPlan, TrainingMode } from '../../shared/protocol.js';
import type { RateMeter } from '../metrics/RateMeter.js';
import type { GradientPiece } from './ShardActor.js';

/** What a worker says of itself at hello. */
export interface WorkerInfo {
  readonly backend: string;
  readonly device?: string;
  /**
   * The identity token the hub issued this volunteer (at this or an earlier hello): trust and
   * checks follow it across reconnects. Absent: trust is this connection's alone.
   */
  readonly identity?: string;
  /** The address the connection came from: a newcomer's trust is bounded by its address's record. */
  readonly address?: string;
  /** The volunteer's display name (hello's `name`), on the leaderboard. */
  readonly name?: string;
}

/** A validated gradient (or, in local mode, weight change), cut into per-shard pieces by the gateway. */
export interface GradientPush {
  readonly piecesByShard: ReadonlyMap<number, readonly GradientPiece[]>;
  /** Every shard's version the gradient was computed from. */
  readonly versions: readonly number[];
  readonly round?: number;
  readonly examples: number;
  readonly loss: number;
  /** Unique per push; a retried push with a known id is answered, not applied again. */
  readonly pushId: string;
  /** Milliseconds the worker spent computing the gradient. */
  readonly computeMs?: number;
  /** Local mode: the pieces are a weight change made by this many inner steps. */
  readonly localSteps?: number;
  /** The examples behind it, `[unitId, offset, count]` per batch (what a spot check recomputes from). */
  readonly batches?: readonly (readonly [number, number, number])[];
}

export interface PushResult {
  readonly globalStep: number;
  /** Updates applied to the pushed shards since the gradient's weights were pulled (async mode). */
  readonly staleness: number;
  /** The push id had been seen before: this is the first push's outcome, nothing was applied. */
  readonly duplicate?: boolean;
}

/** What a worker's next pull carries besides the weights: its round (sync, local) and local plan. */
export interface WorkAssignment {
  readonly round?: number;
  readonly local?: LocalRoundPlan;
}

export interface RoundRecord {
  readonly id: number;
  readonly closedAt: number;
  readonly durationMs: number;
  /** Gradients averaged in the round. */
  readonly gradients: number;
  /** Workers the round waited for when it opened. */
  readonly participants: number;
  /** 'sync': gradients averaged and applied by the inner rule; 'local': weight changes, outer optimizer. */
  readonly kind: 'sync' | 'local';
  /** Local rounds: L2 norm of the combined weight change the outer optimizer applied. */
  readonly changeNorm?: number;
  /** Local rounds: mean inner steps behind the round's changes. */
  readonly localSteps?: number;
}

/** The coordinator's record of one registered worker; strategies credit it. */
export interface WorkerRecord {
  readonly id: string;
  readonly info: WorkerInfo;
  /** The key of this worker's trust: its identity, or its connection's id without one. */
  readonly volunteer: string;
  readonly connectedAt: number;
  lastSeen: number;
  steps: number;
  examples: number;
  /** Local mode: inner steps behind the last accepted change, and that change's L2 norm. */
  localSteps: number;
  changeNorm: number | null;
  readonly refused: Record<string, number>;
  readonly rate: RateMeter;
  /** `--spot-check`: this worker's pushes the hub recomputed, and of those the ones that did not match. */
  readonly checks: SpotCheckCounts;
}

export interface SpotCheckCounts {
  verified: number;
  failed: number;
}

/** The coordinator's part of a checkpoint (the data cursor is the UnitPool's). */
export interface CoordinatorCheckpoint {
  readonly globalStep: number;
  readonly examplesSeen: number;
  readonly pushesAccepted: number;
  readonly trainLoss: number | null;
  readonly nextRoundId: number;
  readonly shardVersions: readonly number[];
  readonly refusals: Readonly<Record<string, number>>;
  readonly staleness: readonly number[];
  /** Every volunteer's trust; absent in checkpoints from before it was kept (all start on probation). */
  readonly volunteers?: VolunteerTrustState;
  /** Every volunteer's credit; absent in checkpoints from before it was kept. */
  readonly credit?: VolunteerCreditState;
}

export interface WorkerStatus {
  readonly id: string;
  /** A public name of the volunteer (the same across its reconnects); never its identity token. */
  readonly volunteer: string;
  /** `--trust`: the volunteer's trust in [0, 1]; null without it. */
  readonly trust: number | null;
  /** `--spot-check`: pushes recomputed by the hub that matched (verified) and that did not (failed). */
  readonly checks: Readonly<SpotCheckCounts>;
  readonly backend: string;
  readonly device?: string;
  /** Gradients (or weight changes) accepted. */
  readonly steps: number;
  /** Examples behind the accepted pushes: the worker's credit. */
  readonly examples: number;
  /** Refused messages by error code. */
  readonly refused: Readonly<Record<string, number>>;
  readonly examplesPerSec: number;
  /** Local mode: inner steps behind this worker's last accepted weight change (0 before any). */
  readonly localSteps: number;
  /** Local mode: L2 norm of this worker's last accepted weight change (null before any). */
  readonly changeNorm: number | null;
  readonly connectedAt: number;
  readonly lastSeen: number;
}

export interface CoordinatorStatus {
  readonly mode: TrainingMode;
  readonly globalStep: number;
  readonly examplesSeen: number;
  readonly pushesAccepted: number;
  readonly epoch: number;
  readonly trainLoss: number | null;
  readonly examplesPerSec: number;
  readonly round: number | null;
  readonly workers: WorkerStatus[];
  /** Refused messages by error code, all workers (and unregistered sockets) together. */
  readonly refusals: Readonly<Record<string, number>>;
  /** Async mode: applied pushes by staleness; the last bucket holds MAX_STALENESS_BUCKET and above. */
  readonly staleness: readonly number[];
  /** Sync and local mode: the most recent closed rounds, oldest first. */
  readonly recentRounds: readonly RoundRecord[];
  /** The most recent joins and leaves, oldest first. */
  readonly recentEvents: readonly WorkerEvent[];
}

export interface WorkerEvent {
  readonly at: number;
  readonly kind: 'join' | 'leave';
  readonly workerId: string;
  readonly backend: string;
}
