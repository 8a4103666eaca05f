import type { GradientPush, WorkAssignment, WorkerRecord } from '../coordinatorTypes.js';
import type { OuterStep } from '../ShardActor.js';
import type { ModeHost } from './TrainingStrategy.js';
import { RoundStrategy, type AppliedRound, type Round, type RoundOptions } from './RoundStrategy.js';
import { pushNorm } from './pushNorm.js';
import { refuseWrongKind } from './updateKind.js';

/** A round without `roundTrainMs` closes at the latest this many round timeouts after it opened. */
const UNTIMED_ROUND_TIMEOUTS = 10;

export interface LocalRoundsOptions extends RoundOptions {
  /** Inner steps a worker takes on the round's weights before it pushes its change. */
  readonly localSteps: number;
  /**
   * Training time a round allows, ms: each worker stops its inner steps at this or at `localSteps`,
   * whichever comes first. The round's deadline is this plus `roundTimeoutMs` (time to push).
   */
  readonly roundTrainMs?: number;
  /** What the shards apply to the combined change. */
  readonly outer: OuterStep;
}

/**
 * Local mode (DiLoCo, Douillard et al. 2023; FedAvg with `average`): a round hands every worker the
 * global weights, each trains them with its own inner optimizer for `localSteps` steps (or as many as
 * fit in the round's time), then pushes its weight change (start minus end) and the examples behind
 * it. The round's changes are combined (weighted by examples, or by the `--aggregate` rule) and the
 * shards apply the outer optimizer to the combination: one update per round, whatever its steps.
 */
export class LocalRounds extends RoundStrategy {
  readonly kind = 'local';
  /** Per open round: the inner steps behind its accepted changes, for the round record. */
  private readonly changes = new Map<number, { steps: number; count: number }>();

  constructor(
    host: ModeHost,
    private readonly options: LocalRoundsOptions,
    nextRoundId: () => number,
  ) {
    super(host, options, nextRoundId);
  }

  /**
   * With a training time, the round ends that long after it opened plus `roundTimeoutMs` to push.
   * Without one, nobody knows how long `localSteps` take on the volunteers' machines: the round
   * waits (up to UNTIMED_ROUND_TIMEOUTS round timeouts) until the first change is in, and then gives
   * the others `roundTimeoutMs` more (graceAfterFirstPushMs).
   */
  protected deadlineMs(): number {
    const { roundTrainMs, roundTimeoutMs } = this.options;
    return roundTrainMs === undefined
      ? UNTIMED_ROUND_TIMEOUTS * roundTimeoutMs
      : roundTrainMs + roundTimeoutMs;
  }

  protected override graceAfterFirstPushMs(): number | undefined {
    return this.options.roundTrainMs === undefined ? this.options.roundTimeoutMs : undefined;
  }

  protected assignment(round: Round): WorkAssignment {
    const { localSteps, roundTrainMs } = this.options;
    if (roundTrainMs === undefined) return { round: round.id, local: { steps: localSteps } };
    // Time left of the round's training window: a worker that pulls late still finishes on time.
    const trainMs = Math.max(0, round.openedAt + roundTrainMs - this.host.now());
    return { round: round.id, local: { steps: localSteps, trainMs } };
  }

  protected checkPush(push: GradientPush): void {
    refuseWrongKind('local', push);
  }

  protected accepted(worker: WorkerRecord, push: GradientPush): void {
    worker.localSteps = push.localSteps ?? 0;
    worker.changeNorm = pushNorm(push);
    const round = push.round ?? -1;
    const sums = this.changes.get(round) ?? { steps: 0, count: 0 };
    sums.steps += worker.localSteps;
    sums.count++;
    this.changes.set(round, sums);
  }

  protected async apply(round: Round): Promise<AppliedRound> {
    const replies = await Promise.all(
      this.host.shards.map((shard) =>
        shard.ask({ type: 'applyOuterRound', round: round.id, outer: this.options.outer }),
      ),
    );
    const sums = this.changes.get(round.id);
    // Rounds close in order; anything older than this one is done with.
    for (const id of this.changes.keys()) if (id <= round.id) this.changes.delete(id);
    return {
      versions: replies.map((reply) => reply.version),
      record: {
        changeNorm: Math.sqrt(replies.reduce((sum, reply) => sum + reply.changeNorm ** 2, 0)),
        localSteps: sums && sums.count > 0 ? sums.steps / sums.count : 0,
      },
    };
  }
}
