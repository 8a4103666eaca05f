import { createHash } from 'node:crypto';
import { assertNever } from '../../shared/assertNever.js';
import { aggregate, type AggregationRule } from '../aggregation/robustAggregate.js';
import { applyOuterStep, checkOuterStep, l2Norm } from '../optimizers/outerOptimizers.js';
import {
  resolveSyncLrScaling,
  syncRoundLearningRate,
  type ResolvedSyncLrScaling,
  type SyncLrScaling,
} from '../optimizers/syncLrScaling.js';
import type { UpdateRule, OptimizerState } from '../optimizers/updateRules.js';

/** Part of a gradient: `values` for the flat-vector floats [offset, offset + values.length). */
export interface GradientPiece {
  readonly offset: number;
  readonly values: Float32Array;
}

export type ShardMessage =
  | { readonly type: 'pull' }
  /** Async mode: apply now, learning rate x lrScale. */
  | { readonly type: 'apply'; readonly pieces: readonly GradientPiece[]; readonly lrScale: number }
  /**
   * Sync mode: add a worker's gradient to the round's sum, weighted (by its batch size, so that a
   * fast worker's larger batch counts for what it is).
   */
  | {
      readonly type: 'accumulate';
      readonly round: number;
      readonly pieces: readonly GradientPiece[];
      readonly weight: number;
    }
  /**
   * Sync mode: apply the weighted mean of the round's gradients, at the learning rate scaled by their
   * count or not (`syncLrScaling`).
   */
  | { readonly type: 'applyRound'; readonly round: number }
  /**
   * Local mode: the round's accumulated values are weight changes (start minus end of each worker's
   * inner steps): combine them as `applyRound` does (weighted mean or the `aggregation` rule), then
   * apply the outer optimizer to the combined change instead of the inner update rule.
   */
  | { readonly type: 'applyOuterRound'; readonly round: number; readonly outer: OuterStep }
  | { readonly type: 'status' }
  /**
   * Everything needed to rebuild this shard: weights, optimizer state, outer momentum, version (all
   * copies).
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

export interface ShardReplies {
  /** `weights` is an immutable snapshot of `version`: never written after it is handed out. */
  pull: { readonly version: number; readonly weights: Float32Array };
  apply: { readonly version: number };
  accumulate: { readonly round: number; readonly count: number };
  applyRound: { readonly version: number; readonly count: number };
  /** `changeNorm`: L2 norm of this shard's part of the combined change (before the outer optimizer). */
  applyOuterRound: { readonly version: number; readonly count: number; readonly changeNorm: number };
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
}

export type ShardReply<M extends ShardMessage> = ShardReplies[M['type']];

export interface ShardActorOptions {
  readonly index: number;
  /** First float of the flat vector this shard owns. */
  readonly offset: number;
  /** The shard's initial weights; its length is the shard's length. Copied. */
  readonly initialWeights: Float32Array;
  readonly rule: UpdateRule;
  readonly learningRate: number;
  /**
   * Sync mode: how a round's gradients are combined. 'mean' (the default) keeps a running weighted
   * sum; the robust rules keep each gradient of the round to combine them coordinate by coordinate
   * (or, for centered clipping, by this shard's block of the vector).
   */
  readonly aggregation?: AggregationRule;
  /** Sync mode: whether a round's rate is multiplied by its count of gradients; default 'auto'. */
  readonly syncLrScaling?: SyncLrScaling;
  /**
   * Carry on from a checkpoint: the version, optimizer state and (local mode) outer momentum saved with
   * `initialWeights`. A ShardCheckpoint is one. Copied.
   */
  readonly restore?: {
    readonly version: number;
    readonly optimizerState: OptimizerState;
    readonly outerMomentum?: Float32Array;
  };
}

/**
 * One parameter-server shard: owns a contiguous range of the flat weight vector, its optimizer state
 * and a version counter (+1 per applied update). Messages are handled one at a time and to completion
 * (`receive` is synchronous), so the actor needs no locks. It knows nothing of sockets.
 */
export class ShardActor {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  private readonly weights: Float32Array;
  private readonly rule: UpdateRule;
  private readonly optimizerState: OptimizerState;
  private learningRate: number;
  private version = 0;
  /** Copy of `weights` at `snapshotVersion`, shared by every pull of that version. */
  private snapshot: Float32Array | null = null;
  private snapshotVersion = -1;
  private checksum: { version: number; hex: string } | null = null;
  /** Sync mode: the round being accumulated, and its gradient sum (a buffer reused across rounds). */
  private round: {
    id: number;
    count: number;
    weight: number;
    gradients: Float32Array[];
    weights: number[];
  } | null = null;
  private readonly aggregation: AggregationRule;
  private readonly syncLrScaling: ResolvedSyncLrScaling;
  /** Centered clipping starts from the previous round's aggregate (its "history"). */
  private previousAggregate: Float32Array | null = null;
  private roundSum: Float32Array | null = null;
  /** Local mode's nesterov momentum, [length] float32: allocated (zeros) by the first nesterov round. */
  private outerMomentum: Float32Array | null = null;

  constructor(options: ShardActorOptions) {
    this.index = options.index;
    this.offset = options.offset;
    this.length = options.initialWeights.length;
    this.rule = options.rule;
    // Weights and optimizer state in the update kernels' memory, so an apply copies nothing but the gradient.
    const storage = options.rule.allocate(this.length);
    this.weights = storage.params;
    this.weights.set(options.initialWeights);
    this.optimizerState = storage.state;
    this.learningRate = options.learningRate;
    this.aggregation = options.aggregation ?? 'mean';
    this.syncLrScaling = resolveSyncLrScaling(options.syncLrScaling ?? 'auto', options.rule.name);
    if (options.restore) {
      const { version, optimizerState, outerMomentum } = options.restore;
      const slots = this.optimizerState.slots;
      if (
        optimizerState.slots.length !== slots.length ||
        optimizerState.slots.some((s) => s.length !== this.length)
      ) {
        throw new RangeError(
          `shard ${this.index}: the saved optimizer state does not fit ${options.rule.name}`,
        );
      }
      if (outerMomentum !== undefined && outerMomentum.length !== this.length) {
        throw new RangeError(
          `shard ${this.index} has ${this.length} weights; the saved outer momentum has ${outerMomentum.length}`,
        );
      }
      optimizerState.slots.forEach((slot, i) => slots[i].set(slot));
      this.optimizerState.step = optimizerState.step;
      if (outerMomentum !== undefined) this.outerMomentum = Float32Array.from(outerMomentum);
      this.version = version;
    }
  }

  receive<M extends ShardMessage>(message: M): ShardReply<M>;
  receive(message: ShardMessage): ShardReplies[keyof ShardReplies] {
    switch (message.type) {
      case 'pull':
        return { version: this.version, weights: this.currentSnapshot() };
      case 'apply': {
        const offsets = this.localOffsets(message.pieces);
        // One message is one update, however many pieces it has: every piece is applied at the same
        // optimizer step (Adam's bias correction), and the step advances once.
        const step = this.optimizerState.step;
        message.pieces.forEach((piece, i) => {
          this.optimizerState.step = step;
          this.rule.apply(
            this.weights,
            piece.values,
            this.optimizerState,
            this.learningRate * message.lrScale,
            offsets[i],
          );
        });
        this.optimizerState.step = step + 1;
        this.version++;
        return { version: this.version };
      }
      case 'accumulate':
        return this.accumulate(message.round, message.pieces, message.weight);
      case 'applyRound':
        return this.applyRound(message.round);
      case 'applyOuterRound':
        return this.applyOuterRound(message.round, message.outer);
      case 'status':
        return this.status();
      case 'setLearningRate':
        if (!(message.learningRate > 0) || !Number.isFinite(message.learningRate)) {
          throw new RangeError(`learning rate must be a positive number, got ${message.learningRate}`);
        }
        this.learningRate = message.learningRate;
        return { learningRate: this.learningRate };
      case 'reset':
        return this.reset(message.weights);
      case 'checkpoint':
        return {
          index: this.index,
          offset: this.offset,
          version: this.version,
          weights: this.currentSnapshot(),
          optimizerState: {
            step: this.optimizerState.step,
            slots: this.optimizerState.slots.map((slot) => Float32Array.from(slot)),
          },
          // Absent (not undefined) before any outer round: the checkpoint codecs write a blob iff present.
          ...(this.outerMomentum !== null ? { outerMomentum: Float32Array.from(this.outerMomentum) } : {}),
        };
      default:
        return assertNever(message);
    }
  }

  private accumulate(
    round: number,
    pieces: readonly GradientPiece[],
    weight: number,
  ): ShardReplies['accumulate'] {
    if (!(weight > 0)) throw new RangeError(`gradient weight must be positive, got ${weight}`);
    const offsets = this.localOffsets(pieces);
    this.roundSum ??= new Float32Array(this.length);
    const sum = this.roundSum;
    if (this.round === null || this.round.id !== round) {
      this.round = { id: round, count: 0, weight: 0, gradients: [], weights: [] };
      sum.fill(0);
    }
    if (this.aggregation === 'mean') {
      pieces.forEach((piece, p) => {
        const start = offsets[p];
        const values = piece.values;
        for (let i = 0; i < values.length; i++) sum[start + i] += weight * values[i];
      });
    } else {
      // A copy: the pieces are views of a socket message that is not ours to keep.
      const gradient = new Float32Array(this.length);
      pieces.forEach((piece, p) => gradient.set(piece.values, offsets[p]));
      this.round.gradients.push(gradient);
      this.round.weights.push(weight);
    }
    this.round.count++;
    this.round.weight += weight;
    return { round, count: this.round.count };
  }

  private applyRound(round: number): ShardReplies['applyRound'] {
    const combined = this.combineRound(round);
    if (combined === null) return { version: this.version, count: 0 };
    const { count, values } = combined;
    const learningRate = syncRoundLearningRate(this.learningRate, count, this.syncLrScaling);
    this.rule.apply(this.weights, values, this.optimizerState, learningRate, 0);
    this.round = null;
    this.version++;
    return { version: this.version, count };
  }

  /**
   * Local mode: the round's values are weight changes; the outer optimizer applies their combination.
   * The inner optimizer's state is not touched (it is the sync and async modes' own).
   */
  private applyOuterRound(round: number, outer: OuterStep): ShardReplies['applyOuterRound'] {
    // Before the round is combined: combining scales the mean's sum in place, and must happen once.
    checkOuterStep(outer);
    const combined = this.combineRound(round);
    if (combined === null) return { version: this.version, count: 0, changeNorm: 0 };
    const { count, values } = combined;
    const changeNorm = l2Norm(values);
    if (outer.optimizer === 'nesterov') this.outerMomentum ??= new Float32Array(this.length);
    applyOuterStep(this.weights, values, this.outerMomentum, outer);
    this.round = null;
    this.version++;
    return { version: this.version, count, changeNorm };
  }

  /**
   * The pending round's values combined: their weighted mean (computed in place in `roundSum`), or the
   * robust rule's aggregate. Null when `round` is not the pending round or it holds nothing.
   */
  private combineRound(round: number): { count: number; values: Float32Array } | null {
    const pending = this.round;
    const sum = this.roundSum;
    if (pending === null || sum === null || pending.id !== round || pending.count === 0) return null;
    if (this.aggregation === 'mean') {
      const inverse = 1 / pending.weight;
      for (let i = 0; i < sum.length; i++) sum[i] *= inverse;
      return { count: pending.count, values: sum };
    }
    const values = aggregate(this.aggregation, pending.gradients, pending.weights, {
      center: this.previousAggregate ?? undefined,
    });
    this.previousAggregate = values;
    return { count: pending.count, values };
  }

  private reset(weights: Float32Array): ShardReplies['reset'] {
    if (weights.length !== this.length) {
      throw new RangeError(`shard ${this.index} has ${this.length} weights; reset sent ${weights.length}`);
    }
    this.weights.set(weights);
    for (const slot of this.optimizerState.slots) slot.fill(0);
    this.optimizerState.step = 0;
    this.outerMomentum?.fill(0);
    this.round = null;
    this.previousAggregate = null;
    this.version++;
    return { version: this.version };
  }

  private status(): ShardStatus {
    if (this.checksum?.version !== this.version) {
      const bytes = new Uint8Array(this.weights.buffer, this.weights.byteOffset, this.weights.byteLength);
      this.checksum = { version: this.version, hex: createHash('sha1').update(bytes).digest('hex') };
    }
    return {
      index: this.index,
      offset: this.offset,
      length: this.length,
      version: this.version,
      checksum: this.checksum.hex,
    };
  }

  /**
   * A consistent snapshot of one version: socket.io may write a reply to the wire after later updates
   * have run, so a pull never hands out the live array. One copy per version, shared by all pulls.
   */
  private currentSnapshot(): Float32Array {
    if (this.snapshot === null || this.snapshotVersion !== this.version) {
      this.snapshot = Float32Array.from(this.weights);
      this.snapshotVersion = this.version;
    }
    return this.snapshot;
  }

  /** Every piece's offset inside this shard; throws before anything is written if one is outside. */
  private localOffsets(pieces: readonly GradientPiece[]): number[] {
    return pieces.map((piece) => {
      const start = piece.offset - this.offset;
      if (start < 0 || start + piece.values.length > this.length) {
        throw new RangeError(
          `piece [${piece.offset}, +${piece.values.length}) is outside shard ${this.index} [${this.offset}, +${this.length})`,
        );
      }
      return start;
    });
  }
}
