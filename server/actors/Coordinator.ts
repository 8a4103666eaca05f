import { ErrorCode, HubError } from '../../shared/errors.js';
import type { TrainingMode } from '../../shared/protocol.js';
import type { LeasedUnit, UnitPool } from '../data/UnitPool.js';
import { DEFAULT_HUB_OPTIONS, outerStep } from '../options.js';
import type { CoordinatorPort } from './CoordinatorPort.js';
import { BatchSizer, type BatchSizerOptions } from './BatchSizer.js';
import type {
  CoordinatorCheckpoint,
  CoordinatorStatus,
  GradientPush,
  PushResult,
  WorkAssignment,
  WorkerEvent,
  WorkerInfo,
  WorkerRecord,
} from './coordinatorTypes.js';
import { GradientScreen, type GradientScreenOptions, type ScreenedGradient } from './GradientScreen.js';
import { MODE_STRATEGIES, type ModeOptions } from './modes/modeStrategies.js';
import type { ModeHost, TrainingStrategy } from './modes/TrainingStrategy.js';
import { coordinatorModeHost } from './coordinatorModeHost.js';
import { PushClaims } from './PushClaims.js';
import { PushLedger } from './PushLedger.js';
import { pushBounded, RunCounters } from './RunCounters.js';
import { VolunteerCredit, type VolunteerStanding } from './VolunteerCredit.js';
import { VolunteerTrust, type SpotCheckOutcome } from './VolunteerTrust.js';
import { newWorkerRecord, workerStatus } from './workerStatus.js';
import type { ShardRef } from './ShardRef.js';

export type * from './coordinatorTypes.js';
export { MAX_STALENESS_BUCKET } from './RunCounters.js';

export interface CoordinatorOptions extends Partial<ModeOptions> {
  readonly mode: TrainingMode;
  readonly shards: readonly ShardRef[];
  readonly units: UnitPool;
  /** Sync and local mode: a round closes with what it has after this long (local: after its training time). */
  readonly roundTimeoutMs: number;
  /** A work unit returns to the pool when its worker has sent nothing for this long. */
  readonly leaseTimeoutMs?: number;
  /** The batch size the hub asks of every worker (without `batchSizing`): a push claims at most this. */
  readonly batchSize?: number;
  /** Size each worker's batch from its speed so that a gradient takes about this long. */
  readonly batchSizing?: BatchSizerOptions;
  /** Norm clipping and per-worker trust, applied to every gradient before anything else. */
  readonly screening?: GradientScreenOptions;
  /** Carry the run's counters (and volunteers' trust) on from a checkpoint. */
  readonly restore?: CoordinatorCheckpoint;
  /**
   * Appended to every worker id (`w7-c12`): a coordinator that took over from another (or restarted)
   * must not hand out an id the other gave a different worker, which a gateway still uses.
   */
  readonly workerIdSuffix?: string;
  readonly now?: () => number;
}

const RECENT_EVENTS = 50;
const DEFAULT_LEASE_TIMEOUT_MS = 60_000;

/**
 * Owns the run's global state: who is training, the global step, examples seen, work-unit leases,
 * the push ledger and the screen. How a push becomes an update is the mode's strategy
 * (server/actors/modes: async steps, sync rounds, local rounds); the Coordinator hands each screened
 * push to the strategy of the run's current mode. State changes happen synchronously inside each
 * method; awaits only wait for shard replies.
 */
export class Coordinator implements CoordinatorPort {
  private readonly options: CoordinatorOptions;
  private readonly now: () => number;
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly counters: RunCounters;
  private nextWorkerId = 1;
  private readonly recentEvents: WorkerEvent[] = [];
  private readonly ledger = new PushLedger<PushResult>();
  private readonly batchSizer: BatchSizer | null;
  /** Gradients and weight changes differ in size by orders: each has its own norm history. */
  private readonly gradientScreen: GradientScreen;
  private readonly changeScreen: GradientScreen;
  private readonly strategies: Record<TrainingMode, TrainingStrategy>;
  private closed = false;
  /** Set by stopIntake: pushes are refused SHUTTING_DOWN. */
  private intakeStopped = false;
  private isPaused = false;
  private currentMode: TrainingMode;
  private readonly claims: PushClaims;
  /** Every volunteer's trust: both screens and the spot checks read and change it. */
  readonly volunteers = new VolunteerTrust();
  /** Every volunteer's credit: GET /api/volunteers and the dashboard's leaderboard. */
  readonly credit: VolunteerCredit;

  constructor(options: CoordinatorOptions) {
    this.options = options;
    this.currentMode = options.mode;
    this.now = options.now ?? Date.now;
    this.counters = new RunCounters(options.shards.length, this.now, options.restore);
    this.batchSizer = options.batchSizing ? new BatchSizer(options.batchSizing) : null;
    this.claims = new PushClaims(this.counters.shardVersions, {
      batchLimit: options.batchSizing?.maxBatch ?? options.batchSize ?? DEFAULT_HUB_OPTIONS.batchSize,
      localSteps: options.localSteps ?? DEFAULT_HUB_OPTIONS.localSteps,
    });
    if (options.restore?.volunteers) this.volunteers.restore(options.restore.volunteers);
    this.credit = new VolunteerCredit(this.now);
    if (options.restore?.credit) this.credit.restore(options.restore.credit);
    this.gradientScreen = new GradientScreen(options.screening ?? {}, this.volunteers);
    // --clip-norm is in gradient units; trust's screen is relative to recent norms, so it fits changes too.
    this.changeScreen = new GradientScreen({ trust: options.screening?.trust }, this.volunteers);
    const modeOptions: ModeOptions = {
      roundTimeoutMs: options.roundTimeoutMs,
      replicasToAggregate: options.replicasToAggregate,
      maxStaleness: options.maxStaleness,
      stalenessLr: options.stalenessLr,
      localSteps: options.localSteps ?? DEFAULT_HUB_OPTIONS.localSteps,
      roundTrainMs: options.roundTrainMs,
      outer: options.outer ?? outerStep(DEFAULT_HUB_OPTIONS),
      bufferSize: options.bufferSize,
    };
    const host = this.modeHost();
    const nextRoundId = () => this.counters.nextRoundId++;
    this.strategies = {
      async: MODE_STRATEGIES.async(host, modeOptions, nextRoundId),
      sync: MODE_STRATEGIES.sync(host, modeOptions, nextRoundId),
      local: MODE_STRATEGIES.local(host, modeOptions, nextRoundId),
    };
    this.strategy.activate();
  }

  private get strategy(): TrainingStrategy {
    return this.strategies[this.currentMode];
  }

  private get screen(): GradientScreen {
    return this.currentMode === 'local' ? this.changeScreen : this.gradientScreen;
  }

  join(info: WorkerInfo): string {
    const id = `w${this.nextWorkerId++}${this.options.workerIdSuffix ?? ''}`;
    const at = this.now();
    const volunteer = info.identity ?? `connection ${id}`;
    this.volunteers.admit(volunteer, info.address);
    this.credit.seen(volunteer, info.name);
    this.workers.set(id, newWorkerRecord(id, info, volunteer, at, this.now));
    pushBounded(this.recentEvents, { at, kind: 'join', workerId: id, backend: info.backend }, RECENT_EVENTS);
    this.strategy.joined(id);
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
    this.strategy.withdraw(workerId);
  }

  /**
   * The checks' verdict on a push: first what it claims (versions, examples), then the screen's on
   * its values. In a round, a participant whose push is refused here is let off the open round (it
   * takes part again from the next one), so the round does not wait for it.
   */
  private screened(worker: WorkerRecord, push: GradientPush): ScreenedGradient {
    try {
      this.claims.check(push);
      return this.screen.screen(worker.volunteer, push.piecesByShard);
    } catch (error) {
      this.strategy.refused(worker.id);
      throw error;
    }
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
    this.counters.shardVersions[index] = version;
    this.claims.noteVersion(index, version);
  }

  /** Counts a refused message (for the dashboard and metrics); the gateway has already answered it. */
  noteRefusal(workerId: string | undefined, code: string): void {
    this.counters.countRefusal(code);
    const worker = workerId === undefined ? undefined : this.workers.get(workerId);
    if (worker) worker.refused[code] = (worker.refused[code] ?? 0) + 1;
  }

  /** A spot check's verdict on a push by `identity`: counted here, its trust see VolunteerTrust. */
  noteSpotCheck(workerId: string, identity: string, verdict: SpotCheckOutcome): void {
    const worker = this.workers.get(workerId);
    if (worker) worker.checks[verdict.passed ? 'verified' : 'failed']++;
    if (verdict.passed) this.credit.verified(identity);
    this.volunteers.recordCheck(identity, verdict);
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
   * Switches the training mode (an admin action). The old mode's open round is applied with what it
   * has; pulls that were waiting for one ask the new mode; pushes made for the old mode that arrive
   * later are refused (stale round, or the wrong kind of update) and their workers pull again.
   */
  async setMode(mode: TrainingMode): Promise<void> {
    if (mode === this.currentMode) return;
    const previous = this.strategy;
    this.currentMode = mode;
    this.strategy.activate();
    await previous.deactivate();
  }

  /**
   * Starts the run over (an admin action): every shard takes the fresh weights (and a fresh optimizer
   * state), the counters go back to zero, an open round is dropped and its workers pull again, and a
   * gradient computed from weights older than the reset is refused as stale.
   */
  async reset(freshWeights: (shardIndex: number) => Float32Array): Promise<void> {
    this.strategy.dropForReset();
    // Local shards answer in this same turn, so no push slips in between the shards and the counters.
    const replies = await Promise.all(
      this.options.shards.map((shard, index) => shard.ask({ type: 'reset', weights: freshWeights(index) })),
    );
    replies.forEach((reply, index) => (this.counters.shardVersions[index] = reply.version));
    this.claims.noteReset(replies.map((reply) => reply.version));
    this.counters.reset();
    this.strategy.activate();
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
   * What this worker's next pull carries: nothing in async mode; the round (and, in local mode, its
   * plan) otherwise. Waits while the worker is not part of the open round (it joined after the round
   * opened, or already pushed for it). A mode switch meanwhile hands the question to the new mode.
   */
  async nextWork(workerId: string): Promise<WorkAssignment> {
    this.requireWorker(workerId);
    for (;;) {
      const work = await this.strategy.nextWork(workerId);
      if (work !== null) return work;
    }
  }

  /** Sync and local mode: the round this worker's next push belongs to (see nextWork). */
  async roundFor(workerId: string): Promise<number | undefined> {
    return (await this.nextWork(workerId)).round;
  }

  /**
   * Applies (async) or aggregates (sync, local) a push. A push id seen before gets the first outcome
   * again (a retry after a lost ack): no push is ever applied twice.
   */
  async push(workerId: string, push: GradientPush): Promise<PushResult> {
    const worker = this.requireWorker(workerId);
    this.touch(workerId);
    this.requireRunning();
    if (this.intakeStopped) {
      throw new HubError(ErrorCode.ShuttingDown, 'the hub is shutting down; push again once it is back');
    }
    const { outcome, duplicate } = this.ledger.once(push.pushId, async () => {
      const { piecesByShard, weight } = this.screened(worker, push);
      return this.strategy.push(worker, { ...push, piecesByShard }, weight);
    });

    if (!duplicate && push.computeMs !== undefined && push.localSteps === undefined)
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

  /** GET /api/volunteers: every volunteer's credit, best first, with their workers online now. */
  standings(): VolunteerStanding[] {
    const online = new Map<string, number>();
    for (const { volunteer } of this.workers.values())
      online.set(volunteer, (online.get(volunteer) ?? 0) + 1);
    return this.credit.standings(online);
  }

  status(): CoordinatorStatus {
    const counters = this.counters;
    return {
      mode: this.currentMode,
      globalStep: counters.globalStep,
      examplesSeen: counters.examplesSeen,
      pushesAccepted: counters.pushesAccepted,
      epoch: this.options.units.epochs,
      trainLoss: counters.trainLoss,
      examplesPerSec: counters.throughput.perSecond(),
      round: this.strategy.openRound,
      workers: [...this.workers.values()].map((w) =>
        workerStatus(w, this.options.screening?.trust ? this.volunteers.get(w.volunteer) : null),
      ),
      refusals: { ...counters.refusals },
      staleness: [...counters.staleness],
      recentRounds: [...counters.recentRounds],
      recentEvents: [...this.recentEvents],
    };
  }

  /**
   * The run's counters for a checkpoint. Taken in the same turn of the event loop as the shards'
   * checkpoints, they describe the same moment. An open round's pushes are not kept: its workers
   * resend after the restart.
   */
  checkpoint(): CoordinatorCheckpoint {
    return {
      ...this.counters.checkpoint(),
      volunteers: this.volunteers.state(),
      credit: this.credit.state(),
    };
  }

  /**
   * The first step of a shutdown: pushes are refused from now on (SHUTTING_DOWN), an open round is
   * applied with what it has, and every push already taken is applied and answered. A checkpoint
   * written after this holds every push the hub acknowledged.
   */
  async stopIntake(): Promise<void> {
    this.intakeStopped = true;
    await this.strategy.deactivate();
    await this.ledger.settled();
  }

  close(): void {
    this.closed = true;
    this.intakeStopped = true;
    const error = new HubError(ErrorCode.Internal, 'the hub is shutting down');
    for (const strategy of Object.values(this.strategies)) strategy.close(error);
  }

  /** What the mode strategies may use of the coordinator. */
  private modeHost(): ModeHost {
    return coordinatorModeHost({
      shards: this.options.shards,
      now: this.now,
      isClosed: () => this.closed,
      workers: this.workers,
      // An untrusted worker's pushes would be refused: a round does not wait for them.
      refuses: (volunteer) => this.screen.refuses(volunteer),
      counters: this.counters,
      credit: this.credit,
      noteShardVersion: (index, version) => this.noteShardVersion(index, version),
    });
  }

  private requireWorker(workerId: string): WorkerRecord {
    const worker = this.workers.get(workerId);
    if (!worker) throw new HubError(ErrorCode.NotRegistered, 'send hello first');
    return worker;
  }
}
