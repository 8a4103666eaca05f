import { ErrorCode, HubError } from '../../../shared/errors.js';
import type {
  GradientPush,
  PushResult,
  RoundRecord,
  WorkAssignment,
  WorkerRecord,
} from '../coordinatorTypes.js';
import type { AppliedRound, Round, RoundOptions } from './Round.js';
import { commitRound } from './roundCommit.js';
import type { ModeHost, TrainingStrategy } from './TrainingStrategy.js';

export type { AppliedRound, Round, RoundOptions } from './Round.js';

type Waiter = {
  workerId: string;
  resolve: (work: WorkAssignment | null) => void;
  reject: (e: Error) => void;
};

/**
 * The round machine that sync and local mode share (TensorFlow's SyncReplicasOptimizer): a round
 * waits for one push from every worker registered when it opened (or its first K, or its deadline),
 * then every shard applies the combination at once and the global step advances by one. A round
 * nobody pushed to is reopened with whoever is registered. Subclasses say what a push must be, what
 * a pull is told, and how a closed round is applied.
 *
 * A round closes on every shard or on none (closeRound): each push is accumulated under its push id,
 * and the round is applied only once every shard says it holds exactly the pushes the round counts.
 */
export abstract class RoundStrategy implements TrainingStrategy {
  abstract readonly kind: RoundRecord['kind'];
  private round: Round | null = null;
  /** The last round that closed, to tell a dropped backup push from a stale one. */
  private lastClosed: Round | null = null;
  /** Pulls waiting for a round their worker takes part in. */
  private waiters: Waiter[] = [];
  private active = false;
  /**
   * The first round opened on the weights as they are now: rounds from it on were reopened empty, so
   * a push computed for any of them was computed on the open round's weights.
   */
  private sameWeightsSince = 0;
  /** The weights changed (a round applied, a reset, another mode's turn): the next round starts anew. */
  private weightsChanged = true;

  constructor(
    protected readonly host: ModeHost,
    protected readonly rounds: RoundOptions,
    /** The next round's id: ids never repeat within a run, across modes, resets and restarts. */
    private readonly nextRoundId: () => number,
  ) {}

  /** Milliseconds from a round's opening to its deadline. */
  protected abstract deadlineMs(): number;
  /**
   * Milliseconds the others get once a round's first push is in (the deadline moves up to then if
   * that is sooner); undefined: the deadline stays where it was set at the opening.
   */
  protected graceAfterFirstPushMs(): number | undefined {
    return undefined;
  }
  /** What a participant's pull of `round` is told. */
  protected abstract assignment(round: Round): WorkAssignment;
  /** Refuses a push this mode cannot take (a gradient in local mode, ...), before anything counts. */
  protected abstract checkPush(push: GradientPush): void;
  /** Called once a push has been accumulated (local mode remembers its change's size). */
  protected abstract accepted(worker: WorkerRecord, push: GradientPush): void;
  /**
   * Applies a closed round that every shard prepared: the messages go to every shard in the turn
   * this is called, right after the last prepare's answer.
   */
  protected abstract apply(round: Round): Promise<AppliedRound>;

  get openRound(): number | null {
    return this.round?.id ?? null;
  }

  activate(): void {
    this.active = true;
    this.weightsChanged = true;
    if (this.round === null && this.host.hasWorkers()) this.open();
  }

  async deactivate(): Promise<void> {
    this.active = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve(null);
    const round = this.round;
    if (round === null || round.closing) return;
    if (round.received.size > 0) await this.closeRound(round);
    else this.reopenEmpty(round);
  }

  joined(workerId: string): void {
    const round = this.round;
    // A round that has no push yet has not really started: the newcomer takes part at once instead
    // of idling for a whole round.
    if (round === null) this.open();
    else if (!round.closing && round.received.size === 0) {
      round.participants.add(workerId);
      round.waitedFor++;
    }
  }

  withdraw(workerId: string): void {
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.workerId !== workerId) return true;
      waiter.reject(new HubError(ErrorCode.NotRegistered, 'the worker left'));
      return false;
    });
    this.stopWaitingFor(workerId);
  }

  /** The screen refused this worker's push: the open round stops waiting for one from it. */
  refused(workerId: string): void {
    const round = this.round;
    if (round && !round.received.has(workerId)) this.stopWaitingFor(workerId);
  }

  nextWork(workerId: string): Promise<WorkAssignment | null> {
    const round = this.round;
    if (round && !round.closing && round.participants.has(workerId) && !round.received.has(workerId)) {
      return Promise.resolve(this.assignment(round));
    }
    return new Promise((resolve, reject) => this.waiters.push({ workerId, resolve, reject }));
  }

  async push(worker: WorkerRecord, push: GradientPush, trust: number): Promise<PushResult> {
    this.checkPush(push);
    const round = this.round;
    const wanted = this.rounds.replicasToAggregate;
    if (round && !round.closing && this.onSameWeights(push.round, round)) {
      // Late for a round that closed empty: nothing was applied since, so it is as good as on time.
      push = { ...push, round: round.id };
    }
    if (!round || round.closing || push.round !== round.id) {
      const closed = this.lastClosed;
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
          `round ${closed.id} had already aggregated its ${closed.received.size} pushes; this one was a backup`,
        );
      }
      throw new HubError(
        ErrorCode.StaleRound,
        `push for round ${push.round ?? '(none)'} refused: the open round is ${round && !round.closing ? round.id : 'none'}; pull again`,
      );
    }
    if (!round.participants.has(worker.id)) {
      throw new HubError(ErrorCode.NotInRound, `worker joined after round ${round.id} opened; pull again`);
    }
    if (round.received.has(worker.id)) {
      throw new HubError(ErrorCode.DuplicateInRound, `a push for round ${round.id} was already received`);
    }
    // Checked before the accumulate is awaited: pushes arriving together must not exceed K.
    if (wanted !== undefined && round.received.size >= wanted) {
      throw new HubError(
        ErrorCode.BackupDropped,
        `round ${round.id} already has its ${wanted} pushes; this one was a backup`,
      );
    }
    // Marked before the await so that a duplicate in the same tick is refused; undone on failure.
    round.received.set(worker.id, { pushId: push.pushId, shards: [...push.piecesByShard.keys()] });
    round.examples += push.examples;
    round.lossSum += push.loss;
    const accumulated = this.accumulateInto(round, worker, push, trust);
    round.accumulating.add(accumulated);
    const outcome = await accumulated;
    round.accumulating.delete(accumulated);
    if ('error' in outcome) throw outcome.error;
    // Another push or a leave may have closed the round while this one was accumulating.
    if (!round.closing && this.complete(round)) void this.closeRound(round);
    return outcome.result;
  }

  /**
   * Adds an accepted push to the round's sums on every shard it covers, under its push id (a shard
   * that has it already does not add it again: a worker's retry under the same id heals a round
   * whose accumulate failed on one shard). Settles, never rejects, once the round's books say what
   * came of it, so that a close waiting for it sees them.
   */
  private async accumulateInto(
    round: Round,
    worker: WorkerRecord,
    push: GradientPush,
    trust: number,
  ): Promise<{ result: Promise<PushResult> } | { error: unknown }> {
    try {
      await Promise.all(
        [...push.piecesByShard].map(([index, pieces]) =>
          this.host.shards[index].ask({
            type: 'accumulate',
            round: round.id,
            contribution: push.pushId,
            pieces,
            // Weighted by its examples times its worker's trust (`--trust`; 1 without): a suspect
            // counts less.
            weight: push.examples * trust,
          }),
        ),
      );
    } catch (error) {
      // Other shards may hold it now: the round does not count it, so their prepare says not ready
      // (unless the worker's retry under the same id completes it everywhere).
      round.received.delete(worker.id);
      round.examples -= push.examples;
      round.lossSum -= push.loss;
      return { error };
    }
    this.host.credit(worker, push.examples);
    this.accepted(worker, push);
    if (round.received.size === 1) this.moveDeadlineUp(round);
    return { result: new Promise<PushResult>((resolve, reject) => round.waiting.push({ resolve, reject })) };
  }

  dropForReset(): void {
    this.weightsChanged = true;
    const round = this.round;
    if (round && !round.closing) {
      round.closing = true;
      clearTimeout(round.deadline);
      this.round = null;
      const error = new HubError(ErrorCode.StaleRound, `round ${round.id} was dropped: the run was reset`);
      for (const waiter of round.waiting) waiter.reject(error);
    }
    this.lastClosed = null;
  }

  close(error: Error): void {
    if (this.round) clearTimeout(this.round.deadline);
    for (const waiter of this.waiters) waiter.reject(error);
    for (const waiter of this.round?.waiting ?? []) waiter.reject(error);
    this.waiters = [];
    this.round = null;
  }

  /**
   * Whether a push for round `id` was computed on the weights `open` hands out: `id` is an earlier
   * round that was reopened empty (every worker slower than the deadline), with no update since.
   * Without this, such a run would never move: each late push refused STALE_ROUND, each round empty.
   */
  private onSameWeights(id: number | undefined, open: Round): boolean {
    return id !== undefined && id < open.id && id >= this.sameWeightsSince;
  }

  /** The open round stops waiting for this worker, and closes if it was the last. */
  private stopWaitingFor(workerId: string): void {
    const round = this.round;
    if (!round || round.closing || !round.participants.delete(workerId)) return;
    if (round.received.size > 0 && this.complete(round)) void this.closeRound(round);
    else if (round.participants.size === 0) this.reopenEmpty(round);
  }

  /** The round has its `replicasToAggregate` pushes, or one from every participant still here. */
  private complete(round: Round): boolean {
    const wanted = this.rounds.replicasToAggregate;
    if (wanted !== undefined && round.received.size >= wanted) return true;
    for (const id of round.participants) if (!round.received.has(id)) return false;
    return true;
  }

  private open(): void {
    if (this.host.isClosed()) return;
    const participants = new Set(this.host.eligibleWorkers());
    const openedAt = this.host.now();
    const round: Round = {
      id: this.nextRoundId(),
      participants,
      waitedFor: participants.size,
      openedAt,
      received: new Map(),
      accumulating: new Set(),
      waiting: [],
      examples: 0,
      lossSum: 0,
      closing: false,
      deadline: setTimeout(() => this.onDeadline(round), this.deadlineMs()),
      deadlineAt: openedAt + this.deadlineMs(),
    };
    this.round = round;
    if (this.weightsChanged) {
      this.sameWeightsSince = round.id;
      this.weightsChanged = false;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve(this.assignment(round));
  }

  /** The first push is in: the others get `graceAfterFirstPushMs` from now, if that is sooner. */
  private moveDeadlineUp(round: Round): void {
    const grace = this.graceAfterFirstPushMs();
    if (grace === undefined || round.closing) return;
    const at = this.host.now() + grace;
    if (at >= round.deadlineAt) return;
    clearTimeout(round.deadline);
    round.deadlineAt = at;
    round.deadline = setTimeout(() => this.onDeadline(round), grace);
  }

  private onDeadline(round: Round): void {
    if (this.round !== round || round.closing) return;
    if (round.received.size > 0) void this.closeRound(round);
    else this.reopenEmpty(round);
  }

  /** A round nobody pushed to: open a fresh one with whoever is registered now. */
  private reopenEmpty(round: Round): void {
    clearTimeout(round.deadline);
    round.closing = true;
    this.round = null;
    if (this.active && this.host.hasWorkers()) this.open();
  }

  /** Closes the round on every shard or on none (commitRound), then opens the next one. */
  private async closeRound(round: Round): Promise<void> {
    if (round.closing) return;
    round.closing = true;
    this.lastClosed = round;
    clearTimeout(round.deadline);
    await commitRound(this.host, round, this.kind, () => {
      this.weightsChanged = true;
      return this.apply(round);
    });
    if (this.round === round) {
      this.round = null;
      if (this.active && this.host.hasWorkers()) this.open();
    }
  }
}
