import type { OptimizerState } from '../optimizers/updateRules.js';

/** Part of a gradient: `values` for the flat-vector floats [offset, offset + values.length). */
export interface GradientPiece {
  readonly offset: number;
  readonly values: Float32Array;
}

/**
 * What a shard is asked, by message (ShardActor handles them; shardCodec carries them over NATS).
 *
 * Sync and local rounds close in two phases, so that a round is applied on every shard or on none:
 * `accumulate` adds each push under its push id (`contribution`), `prepareRound` asks each shard
 * whether it holds exactly the round's pushes, and only then does `applyRound` / `applyOuterRound`
 * run; a round some shard was not ready for is dropped everywhere (`dropRound`).
 */
export type ShardMessage =
  | { readonly type: 'pull' }
  /**
   * Async mode: apply now, learning rate x lrScale. `pushId` makes it at most once: a push id the
   * shard applied before (from any coordinator, before or after a restart from its checkpoint) is
   * answered `duplicate` and not applied again.
   */
  | {
      readonly type: 'apply';
      readonly pushId: string;
      readonly pieces: readonly GradientPiece[];
      readonly lrScale: number;
    }
  /**
   * Sync mode: add a worker's gradient to the round's sum, weighted (by its batch size, so that a
   * fast worker's larger batch counts for what it is). `contribution` (the push id) is added once per
   * round: a repeat is answered `duplicate` and not summed again.
   */
  | {
      readonly type: 'accumulate';
      readonly round: number;
      readonly contribution: string;
      readonly pieces: readonly GradientPiece[];
      readonly weight: number;
    }
  /**
   * Phase one of a round's close: ready when the pending round is `round` and holds exactly
   * `contributions` (then it is marked prepared; an empty list prepares an empty round). Not ready
   * otherwise (a push the shard missed, say after its process restarted, or one the coordinator does
   * not count): the round is then not prepared.
   */
  | { readonly type: 'prepareRound'; readonly round: number; readonly contributions: readonly string[] }
  /**
   * Sync mode: apply the weighted mean of the prepared round's gradients, at the learning rate scaled
   * by their count or not (`syncLrScaling`). A round not prepared is refused (RoundNotPreparedError).
   */
  | { readonly type: 'applyRound'; readonly round: number }
  /**
   * Local mode: the round's accumulated values are weight changes (start minus end of each worker's
   * inner steps): combine them as `applyRound` does (weighted mean or the `aggregation` rule), then
   * apply the outer optimizer to the combined change instead of the inner update rule. Prepared
   * rounds only, as `applyRound`.
   */
  | { readonly type: 'applyOuterRound'; readonly round: number; readonly outer: OuterStep }
  /** A round that closes on no shard (some shard was not ready): its pending sums are discarded. */
  | { readonly type: 'dropRound'; readonly round: number }
  | { readonly type: 'status' }
  /**
   * Everything needed to rebuild this shard: weights, optimizer state, outer momentum, version, the
   * push ids it applied recently (all copies).
   */
  | { readonly type: 'checkpoint' }
  /** The operator changed the learning rate (an admin action). */
  | { readonly type: 'setLearningRate'; readonly learningRate: number }
  /**
   * The operator started the run over (an admin action): these weights, a fresh optimizer state and
   * outer momentum, no pending round. The version still advances, so a gradient from before can be
   * told apart.
   */
  | { readonly type: 'reset'; readonly weights: Float32Array };

/**
 * The outer optimizer of a local round, with its hyper-parameters (sent with every round, so that a
 * shard process needs no flags for it). `delta` is the combined change (start minus end):
 * - nesterov (DiLoCo): m = momentum * m + delta; w -= lr * (delta + momentum * m), which is
 *   `tf.train.momentum(lr, momentum, true)` with delta as the gradient; `m` is the shard's outer
 *   momentum, kept in its checkpoint;
 * - average (FedAvg): w -= delta (the workers' mean end point).
 */
export type OuterStep =
  | { readonly optimizer: 'nesterov'; readonly lr: number; readonly momentum: number }
  | { readonly optimizer: 'average' };

export interface ShardStatus {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  readonly version: number;
  /** sha1 of the shard's current float32 bytes, hex. */
  readonly checksum: string;
}

/** A push id the shard applied, and the version that apply produced. */
export type AppliedPush = readonly [pushId: string, version: number];

export interface ShardReplies {
  /** `weights` is an immutable snapshot of `version`: never written after it is handed out. */
  pull: { readonly version: number; readonly weights: Float32Array };
  /** `duplicate`: the push id was applied before; `version` is the one that apply produced. */
  apply: { readonly version: number; readonly duplicate?: true };
  /** `duplicate`: the contribution was in the round already; nothing was added. */
  accumulate: { readonly round: number; readonly count: number; readonly duplicate?: true };
  /** `have`: the contributions the shard holds for `round`. */
  prepareRound: { readonly round: number; readonly ready: boolean; readonly have: number };
  applyRound: { readonly version: number; readonly count: number };
  /** `changeNorm`: L2 norm of this shard's part of the combined change (before the outer optimizer). */
  applyOuterRound: { readonly version: number; readonly count: number; readonly changeNorm: number };
  dropRound: { readonly round: number; readonly dropped: boolean };
  status: ShardStatus;
  checkpoint: ShardCheckpoint;
  setLearningRate: { readonly learningRate: number };
  reset: { readonly version: number };
}

export interface ShardCheckpoint {
  readonly index: number;
  readonly offset: number;
  readonly version: number;
  readonly weights: Float32Array;
  readonly optimizerState: OptimizerState;
  /** Local mode's outer momentum (nesterov), the shard's length; absent before any outer round. */
  readonly outerMomentum?: Float32Array;
  /**
   * The push ids applied most recently (oldest first), so that a shard restarted from this
   * checkpoint still refuses to apply them twice; absent when none (and in checkpoints from before).
   */
  readonly appliedPushes?: readonly AppliedPush[];
}

export type ShardReply<M extends ShardMessage> = ShardReplies[M['type']];

/**
 * `applyRound` / `applyOuterRound` of a round `prepareRound` did not say ready for: nothing was
 * applied. Over NATS it arrives as an Error with this name.
 */
export class RoundNotPreparedError extends Error {
  constructor(shard: number, round: number) {
    super(`shard ${shard}: round ${round} is not prepared (prepareRound was not ready); nothing was applied`);
    this.name = 'RoundNotPreparedError';
  }
}
