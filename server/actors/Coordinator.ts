import { ErrorCode, HubError } from '../../shared/errors.js';
import type { TrainingMode } from '../../shared/protocol.js';
import type { LeasedUnit, UnitPool } from '../data/UnitPool.js';
import { RateMeter } from '../metrics/RateMeter.js';
import type { CoordinatorPort } from './CoordinatorPort.js';
import { BatchSizer, type BatchSizerOptions } from './BatchSizer.js';
import { GradientScreen, type GradientScreenOptions, type ScreenedGradient } from './GradientScreen.js';
import { PushLedger } from './PushLedger.js';
import type { GradientPiece } from './ShardActor.js';
import type { ShardRef } from './ShardRef.js';

export interface CoordinatorOptions {
  readonly mode: TrainingMode;
  readonly shards: readonly ShardRef[];
  readonly units: UnitPool;
  /** Sync mode: a round closes with what it has after this long. */
  readonly roundTimeoutMs: number;
  /**
   * Sync mode: a round closes after this many gradients; later ones (backup workers) are dropped.
   * Undefined: one from every worker registered when the round opened.
   */
  readonly replicasToAggregate?: number;
  /** Async mode: refuse gradients computed from weights more than this many updates old. */
  readonly maxStaleness?: number;
  /** Async mode: divide the learning rate by the gradient's staleness (when above 1). */
  readonly stalenessLr?: boolean;
  /** A work unit returns to the pool when its worker has sent nothing for this long. */
  readonly leaseTimeoutMs?: number;
  /** Size each worker's batch from its speed so that a gradient takes about this long. */
  readonly batchSizing?: BatchSizerOptions;
  /** Norm clipping and per-worker trust, applied to every gradient before anything else. */
  readonly screening?: GradientScreenOptions;
  /** Carry the run's counters on from a checkpoint. */
  readonly restore?: CoordinatorCheckpoint;
  readonly now?: () => number;
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
}

export interface WorkerInfo {
  readonly backend: string;
  readonly device?: string;
}

/** A validated gradient, cut into per-shard pieces by the gateway. */
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
}

export interface PushResult {
  readonly globalStep: number;
  /** Updates applied to the pushed shards since the gradient's weights were pulled (async mode). */
  readonly staleness: number;
  /** The push id had been seen before: this is the first push's outcome, nothing was applied. */
  readonly duplicate?: boolean;
}

export interface WorkerStatus {
  readonly id: string;
  readonly backend: string;
  readonly device?: string;
  /** Gradients accepted. */
  readonly steps: number;
  /** Examples behind the accepted gradients: the worker's credit. */
  readonly examples: number;
  /** Refused messages by error code. */
  readonly refused: Readonly<Record<string, number>>;
  readonly examplesPerSec: number;
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
  /** Sync mode: the most recent closed rounds, oldest first. */
  readonly recentRounds: readonly RoundRecord[];
  /** The most recent joins and leaves, oldest first. */
  readonly recentEvents: readonly WorkerEvent[];
}

export interface RoundRecord {
  readonly id: number;
  readonly closedAt: number;
  readonly durationMs: number;
  /** Gradients averaged in the round. */
  readonly gradients: number;
  /** Workers the round waited for when it opened. */
  readonly participants: number;
}

export interface WorkerEvent {
  readonly at: number;
  readonly kind: 'join' | 'leave';
  readonly workerId: string;
  readonly backend: string;
}

interface WorkerRecord {
  readonly id: string;
  readonly info: WorkerInfo;
  readonly connectedAt: number;
  lastSeen: number;
  steps: number;
  examples: number;
  readonly refused: Record<string, number>;
  readonly rate: RateMeter;
}

interface Round {
  readonly id: number;
  /** Workers registered when the round opened: the gradients it waits for. */
  readonly participants: Set<string>;
  /** Workers the round waited for: those registered at its opening, and newcomers it admitted. */
  waitedFor: number;
  readonly openedAt: number;
  readonly received: Set<string>;
  readonly waiting: { resolve: (result: PushResult) => void; reject: (error: Error) => void }[];
  examples: number;
  lossSum: number;
  closing: boolean;
  readonly deadline: ReturnType<typeof setTimeout>;
}

/** Smoothing of the reported training loss (exponential moving average over batches). */
const LOSS_SMOOTHING = 0.1;
export const MAX_STALENESS_BUCKET = 16;
const RECENT_ROUNDS = 120;
const RECENT_EVENTS = 50;
const DEFAULT_LEASE_TIMEOUT_MS = 60_000;

/**
 * Owns the run's global state: who is training, the global step, examples seen, work-unit leases and,
 * in sync mode, the rounds. Async: a push is applied to the shards on arrival. Sync: each round waits
 * for one gradient from every worker registered at its start (or for its deadline), then every shard
 * applies the mean with the learning rate scaled by the count, and the global step advances.
 * State changes happen synchronously inside each method; awaits only wait for shard replies.
 */
export class Coordinator implements CoordinatorPort {
  private readonly options: CoordinatorOptions;
  private readonly now: () => number;
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly shardVersions: number[];
  private readonly throughput: RateMeter;
  private nextWorkerId = 1;
  private globalStep = 0;
  private examplesSeen = 0;
  private pushesAccepted = 0;
  private trainLoss: number | null = null;
  private readonly refusals: Record<string, number> = {};
  private readonly stalenessCounts = new Array<number>(MAX_STALENESS_BUCKET + 1).fill(0);
  private readonly recentRounds: RoundRecord[] = [];
  private readonly recentEvents: WorkerEvent[] = [];
  private round: Round | null = null;
  private nextRoundId = 0;
  /** Sync mode: pulls waiting for a round their worker takes part in. */
  private roundWaiters: {
    workerId: string;
    resolve: (round: number | undefined) => void;
    reject: (e: Error) => void;
  }[] = [];
  /** The last round that closed, to tell a dropped backup gradient from a stale one. */
  private lastClosedRound: Round | null = null;
  private readonly ledger = new PushLedger<PushResult>();
  private readonly batchSizer: BatchSizer | null;
  private readonly screen: GradientScreen;
  private closed = false;
  private isPaused = false;
  private currentMode: TrainingMode;
  /** Shard versions right after the operator's last reset: gradients from older weights are refused. */
  private resetVersions: readonly number[] | null = null;

  constructor(options: CoordinatorOptions) {
    this.options = options;
    this.currentMode = options.mode;
    this.now = options.now ?? Date.now;
    this.shardVersions = options.shards.map(() => 0);
    this.throughput = new RateMeter(10_000, this.now);
    this.batchSizer = options.batchSizing ? new BatchSizer(options.batchSizing) : null;
    this.screen = new GradientScreen(options.screening ?? {});
    const saved = options.restore;
    if (saved) {
      this.globalStep = saved.globalStep;
      this.examplesSeen = saved.examplesSeen;
      this.pushesAccepted = saved.pushesAccepted;
      this.trainLoss = saved.trainLoss;
      this.nextRoundId = saved.nextRoundId;
      saved.shardVersions.forEach((v, i) => (this.shardVersions[i] = v));
      Object.assign(this.refusals, saved.refusals);
      saved.staleness.forEach((n, i) => (this.stalenessCounts[i] = n));
    }
  }

  join(info: WorkerInfo): string {
    const id = `w${this.nextWorkerId++}`;
    const at = this.now();
    this.workers.set(id, {
      id,
      info,
      connectedAt: at,
      lastSeen: at,
      steps: 0,
      examples: 0,
      refused: {},
      rate: new RateMeter(10_000, this.now),
    });
    pushBounded(this.recentEvents, { at, kind: 'join', workerId: id, backend: info.backend }, RECENT_EVENTS);
    if (this.currentMode === 'sync') {
      const round = this.round;
      // A round that has no gradient yet has not really started: the newcomer takes part at once
      // instead of idling for a whole round.
      if (round === null) this.openRound();
      else if (!round.closing && round.received.size === 0) {
        round.participants.add(id);
        round.waitedFor++;
      }
    }
    return id;
  }

  leave(workerId: string): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    this.workers.delete(workerId);
    pushBounded(
      this.recentEvents,
      { at: this.now(), kind: 'leave', workerId, backend: worker.info.backend },
      RECENT_EVENTS,
    );
    this.options.units.release(workerId);
    this.batchSizer?.forget(workerId);
    this.screen.forget(workerId);
    this.roundWaiters = this.roundWaiters.filter((waiter) => {
      if (waiter.workerId !== workerId) return true;
      waiter.reject(new HubError(ErrorCode.NotRegistered, 'the worker left'));
      return false;
    });
    this.withdrawFromRound(workerId);
  }

  /**
   * The gradient screen's verdict on a push. Sync mode: a participant whose gradient it refuses is
   * let off the open round (it takes part again from the next one), so the round does not wait for
   * a gradient that will not come.
   */
  private screened(workerId: string, push: GradientPush): ScreenedGradient {
    try {
      return this.screen.screen(workerId, push.piecesByShard);
    } catch (error) {
      const round = this.round;
      if (round && !round.received.has(workerId)) this.withdrawFromRound(workerId);
      throw error;
    }
  }

  /** Sync mode: the open round stops waiting for this worker, and closes if it was the last. */
  private withdrawFromRound(workerId: string): void {
    const round = this.round;
    if (!round || round.closing || !round.participants.delete(workerId)) return;
    if (round.received.size > 0 && this.roundComplete(round)) void this.closeRound(round);
    else if (round.participants.size === 0) this.reopenEmptyRound(round);
  }

  /**
   * A shard's version as one of its replies just gave it (an apply here, a pull at the gateway), noted
   * as each reply arrives rather than once a whole push is done: a push may finish after a later one
   * (its other shard was slow), but one shard answers its messages in the order sent, so its latest
   * reply is its current version. That is also right when the version goes back (a shard process
   * restarted from its checkpoint): the highest ever seen would count every later gradient as stale
   * by the updates the shard lost, and with --max-staleness refuse them all.
   */
  noteShardVersion(index: number, version: number): void {
    this.shardVersions[index] = version;
  }

  /** Counts a refused message (for the dashboard and metrics); the gateway has already answered it. */
  noteRefusal(workerId: string | undefined, code: string): void {
    this.refusals[code] = (this.refusals[code] ?? 0) + 1;
    const worker = workerId === undefined ? undefined : this.workers.get(workerId);
    if (worker) worker.refused[code] = (worker.refused[code] ?? 0) + 1;
  }

  /** The operator paused training (an admin action): weights stay as they are until resumed. */
  get paused(): boolean {
    return this.isPaused;
  }

  setPaused(paused: boolean): void {
    this.isPaused = paused;
  }

  get mode(): TrainingMode {
    return this.currentMode;
  }

  /**
   * Switches between async and sync training (an admin action). To sync: a round opens for every
   * worker registered now; gradients already on their way without a round are refused as stale and
   * their workers pull again. To async: the open round is applied with what it has, and pulls that
   * were waiting for a round go ahead without one.
   */
  async setMode(mode: TrainingMode): Promise<void> {
    if (mode === this.currentMode) return;
    this.currentMode = mode;
    if (mode === 'sync') {
      if (this.round === null && this.workers.size > 0) this.openRound();
      return;
    }
    const waiters = this.roundWaiters;
    this.roundWaiters = [];
    for (const waiter of waiters) waiter.resolve(undefined);
    const round = this.round;
    if (round === null || round.closing) return;
    if (round.received.size > 0) await this.closeRound(round);
    else this.reopenEmptyRound(round);
  }

  /**
   * Starts the run over (an admin action): every shard takes the fresh weights (and a fresh optimizer
   * state), the counters go back to zero, an open round is dropped and its workers pull again, and a
   * gradient computed from weights older than the reset is refused as stale.
   */
  async reset(freshWeights: (shardIndex: number) => Float32Array): Promise<void> {
    const round = this.round;
    if (round && !round.closing) {
      round.closing = true;
      clearTimeout(round.deadline);
      this.round = null;
      const error = new HubError(ErrorCode.StaleRound, `round ${round.id} was dropped: the run was reset`);
      for (const waiter of round.waiting) waiter.reject(error);
    }
    this.lastClosedRound = null;
    // Local shards answer in this same turn, so no push slips in between the shards and the counters.
    const replies = await Promise.all(
      this.options.shards.map((shard, index) => shard.ask({ type: 'reset', weights: freshWeights(index) })),
    );
    replies.forEach((reply, index) => (this.shardVersions[index] = reply.version));
    this.resetVersions = replies.map((reply) => reply.version);
    this.globalStep = 0;
    this.examplesSeen = 0;
    this.pushesAccepted = 0;
    this.trainLoss = null;
    this.stalenessCounts.fill(0);
    this.recentRounds.length = 0;
    if (this.currentMode === 'sync' && this.workers.size > 0) this.openRound();
  }

  /** Throws PAUSED while the operator has paused training; workers wait and ask again. */
  requireRunning(): void {
    if (this.isPaused) {
      throw new HubError(ErrorCode.Paused, 'training is paused by the operator; try again in a moment');
    }
  }

  /** A sign of life from the worker: renews its leases. False when it is not registered. */
  touch(workerId: string): boolean {
    const worker = this.workers.get(workerId);
    if (!worker) return false;
    worker.lastSeen = this.now();
    this.options.units.renew(workerId, worker.lastSeen);
    return true;
  }

  /** The batch size this worker should use next (`batchSizing`), or undefined for the hub's default. */
  batchSizeFor(workerId: string): number | undefined {
    return this.batchSizer?.batchSizeFor(workerId);
  }

  /**
   * Sync mode: the round this worker's next gradient belongs to. Waits while the worker is not part
   * of the open round (it joined after the round opened, or already sent its gradient for it).
   */
  roundFor(workerId: string): Promise<number | undefined> {
    this.requireWorker(workerId);
    if (this.currentMode === 'async') return Promise.resolve(undefined);
    const round = this.round;
    if (round && !round.closing && round.participants.has(workerId) && !round.received.has(workerId)) {
      return Promise.resolve(round.id);
    }
    return new Promise((resolve, reject) => this.roundWaiters.push({ workerId, resolve, reject }));
  }

  /**
   * Applies (async) or aggregates (sync) a gradient. A push id seen before gets the first outcome
   * again (a retry after a lost ack): no gradient is ever applied twice.
   */
  async push(workerId: string, push: GradientPush): Promise<PushResult> {
    const worker = this.requireWorker(workerId);
    this.touch(workerId);
    this.requireRunning();
    const { outcome, duplicate } = this.ledger.once(push.pushId, async () => {
      const { piecesByShard, weight } = this.screened(workerId, push);
      const screened = { ...push, piecesByShard };
      this.refuseFromBeforeReset(push);
      return this.currentMode === 'sync'
        ? this.pushSync(worker, screened)
        : this.pushAsync(worker, screened, weight);
    });
    if (!duplicate && push.computeMs !== undefined)
      this.batchSizer?.record(workerId, push.examples, push.computeMs);
    return duplicate ? { ...(await outcome), duplicate } : outcome;
  }

  leaseUnit(workerId: string): LeasedUnit {
    this.requireWorker(workerId);
    const now = this.now();
    // Expired leases matter only when work is handed out: reclaim them here, no timer needed.
    this.options.units.expire(now - (this.options.leaseTimeoutMs ?? DEFAULT_LEASE_TIMEOUT_MS));
    return this.options.units.lease(workerId, now);
  }

  completeUnit(workerId: string, unitId: number): number {
    this.requireWorker(workerId);
    this.options.units.complete(workerId, unitId);
    return this.options.units.epochs;
  }

  status(): CoordinatorStatus {
    return {
      mode: this.currentMode,
      globalStep: this.globalStep,
      examplesSeen: this.examplesSeen,
      pushesAccepted: this.pushesAccepted,
      epoch: this.options.units.epochs,
      trainLoss: this.trainLoss,
      examplesPerSec: this.throughput.perSecond(),
      round: this.round?.id ?? null,
      workers: [...this.workers.values()].map((w) => ({
        id: w.id,
        backend: w.info.backend,
        device: w.info.device,
        steps: w.steps,
        examples: w.examples,
        examplesPerSec: w.rate.perSecond(),
        refused: { ...w.refused },
        connectedAt: w.connectedAt,
        lastSeen: w.lastSeen,
      })),
      refusals: { ...this.refusals },
      staleness: [...this.stalenessCounts],
      recentRounds: [...this.recentRounds],
      recentEvents: [...this.recentEvents],
    };
  }

  /**
   * The run's counters for a checkpoint. Taken in the same turn of the event loop as the shards'
   * checkpoints, they describe the same moment. An open sync round's gradients are not kept: its
   * workers resend after the restart.
   */
  checkpoint(): CoordinatorCheckpoint {
    return {
      globalStep: this.globalStep,
      examplesSeen: this.examplesSeen,
      pushesAccepted: this.pushesAccepted,
      trainLoss: this.trainLoss,
      nextRoundId: this.nextRoundId,
      shardVersions: [...this.shardVersions],
      refusals: { ...this.refusals },
      staleness: [...this.stalenessCounts],
    };
  }

  close(): void {
    this.closed = true;
    if (this.round) clearTimeout(this.round.deadline);
    const error = new HubError(ErrorCode.Internal, 'the hub is shutting down');
    for (const waiter of this.roundWaiters) waiter.reject(error);
    for (const waiter of this.round?.waiting ?? []) waiter.reject(error);
    this.roundWaiters = [];
    this.round = null;
  }

  /** `trust` scales this worker's learning rate (1 unless trust scores are on). */
  private refuseFromBeforeReset(push: GradientPush): void {
    const since = this.resetVersions;
    if (since === null) return;
    for (const index of push.piecesByShard.keys()) {
      if ((push.versions[index] ?? 0) < since[index]) {
        throw new HubError(
          ErrorCode.TooStale,
          'gradient computed from weights of before the run was reset; pull fresh weights',
        );
      }
    }
  }

  private async pushAsync(worker: WorkerRecord, push: GradientPush, trust = 1): Promise<PushResult> {
    let staleness = 0;
    for (const index of push.piecesByShard.keys()) {
      staleness = Math.max(staleness, this.shardVersions[index] - (push.versions[index] ?? 0));
    }
    const { maxStaleness, stalenessLr } = this.options;
    if (maxStaleness !== undefined && staleness > maxStaleness) {
      throw new HubError(
        ErrorCode.TooStale,
        `gradient is ${staleness} updates stale (limit ${maxStaleness}); pull fresh weights`,
      );
    }
    // Staleness-aware learning rate (Zhang et al., IJCAI'16): a gradient s updates old moves 1/s as far.
    const lrScale = (stalenessLr && staleness > 1 ? 1 / staleness : 1) * trust;
    await Promise.all(
      [...push.piecesByShard].map(([index, pieces]) =>
        this.options.shards[index]
          .ask({ type: 'apply', pieces, lrScale })
          .then((reply) => this.noteShardVersion(index, reply.version)),
      ),
    );
    this.stalenessCounts[Math.min(staleness, MAX_STALENESS_BUCKET)]++;
    this.globalStep++;
    this.creditWorker(worker, push.examples);
    this.recordProgress(push.examples, push.loss);
    return { globalStep: this.globalStep, staleness };
  }

  private async pushSync(worker: WorkerRecord, push: GradientPush): Promise<PushResult> {
    const round = this.round;
    if (!round || round.closing || push.round !== round.id) {
      const closed = this.lastClosedRound;
      const wanted = this.options.replicasToAggregate;
      if (
        closed &&
        push.round === closed.id &&
        closed.participants.has(worker.id) &&
        !closed.received.has(worker.id) &&
        wanted !== undefined &&
        closed.received.size >= wanted
      ) {
        throw new HubError(
          ErrorCode.BackupDropped,
          `round ${closed.id} had already aggregated its ${closed.received.size} gradients; this one was a backup`,
        );
      }
      throw new HubError(
        ErrorCode.StaleRound,
        `gradient for round ${push.round ?? '(none)'} refused: the open round is ${round && !round.closing ? round.id : 'none'}`,
      );
    }
    if (!round.participants.has(worker.id)) {
      throw new HubError(ErrorCode.NotInRound, `worker joined after round ${round.id} opened; pull again`);
    }
    if (round.received.has(worker.id)) {
      throw new HubError(ErrorCode.DuplicateInRound, `a gradient for round ${round.id} was already received`);
    }
    const wanted = this.options.replicasToAggregate;
    // Checked before the accumulate is awaited: gradients arriving together must not exceed K.
    if (wanted !== undefined && round.received.size >= wanted) {
      throw new HubError(
        ErrorCode.BackupDropped,
        `round ${round.id} already has its ${wanted} gradients; this one was a backup`,
      );
    }
    round.received.add(worker.id);
    round.examples += push.examples;
    round.lossSum += push.loss;
    try {
      await Promise.all(
        [...push.piecesByShard].map(([index, pieces]) =>
          this.options.shards[index].ask({
            type: 'accumulate',
            round: round.id,
            pieces,
            weight: push.examples,
          }),
        ),
      );
    } catch (error) {
      // Marked before the await so that a duplicate in the same tick is refused; undone on failure.
      round.received.delete(worker.id);
      round.examples -= push.examples;
      round.lossSum -= push.loss;
      throw error;
    }
    this.creditWorker(worker, push.examples);
    const result = new Promise<PushResult>((resolve, reject) => round.waiting.push({ resolve, reject }));
    // Another push or a leave may have closed the round while this one was accumulating.
    if (!round.closing && this.roundComplete(round)) void this.closeRound(round);
    return result;
  }

  /** The round has its `replicasToAggregate` gradients, or one from every participant still here. */
  private roundComplete(round: Round): boolean {
    const wanted = this.options.replicasToAggregate;
    if (wanted !== undefined && round.received.size >= wanted) return true;
    for (const id of round.participants) if (!round.received.has(id)) return false;
    return true;
  }

  private openRound(): void {
    if (this.closed) return;
    const id = this.nextRoundId++;
    // An untrusted worker's gradients would be refused: the round does not wait for them.
    const participants = new Set([...this.workers.keys()].filter((worker) => !this.screen.refuses(worker)));
    const round: Round = {
      id,
      participants,
      waitedFor: participants.size,
      openedAt: this.now(),
      received: new Set(),
      waiting: [],
      examples: 0,
      lossSum: 0,
      closing: false,
      deadline: setTimeout(() => this.onDeadline(round), this.options.roundTimeoutMs),
    };
    this.round = round;
    const waiters = this.roundWaiters;
    this.roundWaiters = [];
    for (const waiter of waiters) waiter.resolve(id);
  }

  private onDeadline(round: Round): void {
    if (this.round !== round || round.closing) return;
    if (round.received.size > 0) void this.closeRound(round);
    else this.reopenEmptyRound(round);
  }

  /** A round nobody sent a gradient to: open a fresh one with whoever is registered now. */
  private reopenEmptyRound(round: Round): void {
    clearTimeout(round.deadline);
    round.closing = true;
    this.round = null;
    if (this.currentMode === 'sync' && this.workers.size > 0) this.openRound();
  }

  private async closeRound(round: Round): Promise<void> {
    if (round.closing) return;
    round.closing = true;
    this.lastClosedRound = round;
    clearTimeout(round.deadline);
    try {
      const replies = await Promise.all(
        this.options.shards.map((shard) => shard.ask({ type: 'applyRound', round: round.id })),
      );
      replies.forEach((reply, index) => (this.shardVersions[index] = reply.version));
      this.globalStep++;
      this.recordProgress(round.examples, round.lossSum / round.received.size);
      const closedAt = this.now();
      pushBounded(
        this.recentRounds,
        {
          id: round.id,
          closedAt,
          durationMs: closedAt - round.openedAt,
          gradients: round.received.size,
          participants: round.waitedFor,
        },
        RECENT_ROUNDS,
      );
      const result: PushResult = { globalStep: this.globalStep, staleness: 0 };
      for (const waiter of round.waiting) waiter.resolve(result);
    } catch (error) {
      for (const waiter of round.waiting) waiter.reject(error as Error);
    }
    if (this.round === round) {
      this.round = null;
      if (this.currentMode === 'sync' && this.workers.size > 0) this.openRound();
    }
  }

  /** A gradient of `examples` examples from this worker was accepted. */
  private creditWorker(worker: WorkerRecord, examples: number): void {
    this.pushesAccepted++;
    worker.steps++;
    worker.examples += examples;
    worker.rate.record(examples);
  }

  /** An update computed from `examples` examples was applied to the weights. */
  private recordProgress(examples: number, loss: number): void {
    this.examplesSeen += examples;
    this.throughput.record(examples);
    this.trainLoss =
      this.trainLoss === null ? loss : this.trainLoss + LOSS_SMOOTHING * (loss - this.trainLoss);
  }

  private requireWorker(workerId: string): WorkerRecord {
    const worker = this.workers.get(workerId);
    if (!worker) throw new HubError(ErrorCode.NotRegistered, 'send hello first');
    return worker;
  }
}

/** Appends, dropping the oldest entries beyond `limit`. */
function pushBounded<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}
