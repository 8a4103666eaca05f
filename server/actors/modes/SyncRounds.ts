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

  protected accepted(): void {}

  protected async apply(round: Round): Promise<AppliedRound> {
    const replies = await Promise.all(
      this.host.shards.map((shard) => shard.ask({ type: 'applyRound', round: round.id })),
    );
    return { versions: replies.map((reply) => reply.version) };
  }
}
