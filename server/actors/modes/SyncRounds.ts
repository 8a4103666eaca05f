import type { GradientPush, WorkAssignment } from '../coordinatorTypes.js';
import { RoundStrategy, type AppliedRound, type Round } from './RoundStrategy.js';
import { refuseWrongKind } from './updateKind.js';

/**
 * Sync mode (TensorFlow's SyncReplicasOptimizer): each round averages one gradient per worker,
 * weighted by its examples (times its worker's trust with `--trust`), and every shard applies the mean with its update rule at the learning
 * rate scaled by `--sync-lr-scaling` (optimizers/syncLrScaling.ts; by default times the number of gradients).
 */
export class SyncRounds extends RoundStrategy {
  readonly kind = 'sync';

  protected deadlineMs(): number {
    return this.rounds.roundTimeoutMs;
  }

  protected assignment(round: Round): WorkAssignment {
    return { round: round.id };
  }

  protected checkPush(push: GradientPush): void {
    refuseWrongKind('sync', push);
  }

  /** Weighted by its examples times its worker's trust (`--trust`; 1 without): a suspect counts less. */
  protected async accumulate(round: Round, push: GradientPush, trust: number): Promise<void> {
    await Promise.all(
      [...push.piecesByShard].map(([index, pieces]) =>
        this.host.shards[index].ask({
          type: 'accumulate',
          round: round.id,
          pieces,
          weight: push.examples * trust,
        }),
      ),
    );
  }

  protected accepted(): void {}

  protected async apply(round: Round): Promise<AppliedRound> {
    const replies = await Promise.all(
      this.host.shards.map((shard) => shard.ask({ type: 'applyRound', round: round.id })),
    );
    return { versions: replies.map((reply) => reply.version) };
  }
}
