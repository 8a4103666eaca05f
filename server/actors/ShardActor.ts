import { createHash } from 'node:crypto';
import { assertNever } from '../../shared/assertNever.js';
import type { AggregationRule } from '../aggregation/robustAggregate.js';
import { applyOuterStep, checkOuterStep, l2Norm } from '../optimizers/outerOptimizers.js';
import {
  resolveSyncLrScaling,
  syncRoundLearningRate,
  type ResolvedSyncLrScaling,
  type SyncLrScaling,
} from '../optimizers/syncLrScaling.js';
import type { UpdateRule, OptimizerState } from '../optimizers/updateRules.js';
import { AppliedPushes } from './AppliedPushes.js';
import { RoundAccumulator } from './RoundAccumulator.js';
import type {
  AppliedPush,
  GradientPiece,
  OuterStep,
  ShardCheckpoint,
  ShardMessage,
  ShardReplies,
  ShardReply,
  ShardStatus,
} from './shardMessages.js';

export type * from './shardMessages.js';
export { RoundNotPreparedError } from './shardMessages.js';

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
   * Carry on from a checkpoint: the version, optimizer state, (local mode) outer momentum and applied
   * push ids saved with `initialWeights`. A ShardCheckpoint is one. Copied.
   */
  readonly restore?: {
    readonly version: number;
    readonly optimizerState: OptimizerState;
    readonly outerMomentum?: Float32Array;
    readonly appliedPushes?: readonly AppliedPush[];
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
  /** Sync and local mode: the round being accumulated, and its two-phase close. */
  private readonly round: RoundAccumulator;
  /** Async mode: push ids applied recently, so that none is applied twice. */
  private readonly applied: AppliedPushes;
  private readonly syncLrScaling: ResolvedSyncLrScaling;
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
    this.round = new RoundAccumulator(this.index, this.length, options.aggregation ?? 'mean');
    this.syncLrScaling = resolveSyncLrScaling(options.syncLrScaling ?? 'auto', options.rule.name);
    this.applied = new AppliedPushes(options.restore?.appliedPushes);
    if (options.restore) this.restore(options.restore);
  }

  receive<M extends ShardMessage>(message: M): ShardReply<M>;
  receive(message: ShardMessage): ShardReplies[keyof ShardReplies] {
    switch (message.type) {
      case 'pull':
        return { version: this.version, weights: this.currentSnapshot() };
      case 'apply':
        return this.apply(message.pushId, message.pieces, message.lrScale);
      case 'accumulate': {
        const { round, contribution, pieces, weight } = message;
        requireId(contribution, 'accumulate', 'contribution');
        if (!(weight > 0)) throw new RangeError(`gradient weight must be positive, got ${weight}`);
        return this.round.add(round, contribution, pieces, this.localOffsets(pieces), weight);
      }
      case 'prepareRound':
        return this.round.prepare(message.round, message.contributions);
      case 'applyRound':
        return this.applyRound(message.round);
      case 'applyOuterRound':
        return this.applyOuterRound(message.round, message.outer);
      case 'dropRound':
        return this.round.drop(message.round);
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
        return this.checkpoint();
      default:
        return assertNever(message);
    }
  }

  /**
   * One message is one update, however many pieces it has: every piece is applied at the same
   * optimizer step (Adam's bias correction), and the step advances once. A push id applied before is
   * answered with the version it produced, and nothing is applied.
   */
  private apply(pushId: string, pieces: readonly GradientPiece[], lrScale: number): ShardReplies['apply'] {
    requireId(pushId, 'apply', 'pushId');
    const before = this.applied.versionOf(pushId);
    if (before !== undefined) return { version: before, duplicate: true };
    const offsets = this.localOffsets(pieces);
    const step = this.optimizerState.step;
    pieces.forEach((piece, i) => {
      this.optimizerState.step = step;
      this.rule.apply(
        this.weights,
        piece.values,
        this.optimizerState,
        this.learningRate * lrScale,
        offsets[i],
      );
    });
    this.optimizerState.step = step + 1;
    this.version++;
    this.applied.remember(pushId, this.version);
    return { version: this.version };
  }

  private applyRound(round: number): ShardReplies['applyRound'] {
    const combined = this.round.take(round);
    if (combined === null) return { version: this.version, count: 0 };
    const { count, values } = combined;
    const learningRate = syncRoundLearningRate(this.learningRate, count, this.syncLrScaling);
    this.rule.apply(this.weights, values, this.optimizerState, learningRate, 0);
    this.version++;
    return { version: this.version, count };
  }

  /**
   * Local mode: the round's values are weight changes; the outer optimizer applies their combination.
   * The inner optimizer's state is not touched (it is the sync and async modes' own).
   */
  private applyOuterRound(round: number, outer: OuterStep): ShardReplies['applyOuterRound'] {
    // Both before the round is taken: a refused apply leaves it prepared, to be applied once.
    this.round.requirePrepared(round);
    checkOuterStep(outer);
    const combined = this.round.take(round);
    if (combined === null) return { version: this.version, count: 0, changeNorm: 0 };
    const { count, values } = combined;
    const changeNorm = l2Norm(values);
    if (outer.optimizer === 'nesterov') this.outerMomentum ??= new Float32Array(this.length);
    applyOuterStep(this.weights, values, this.outerMomentum, outer);
    this.version++;
    return { version: this.version, count, changeNorm };
  }

  private reset(weights: Float32Array): ShardReplies['reset'] {
    if (weights.length !== this.length) {
      throw new RangeError(`shard ${this.index} has ${this.length} weights; reset sent ${weights.length}`);
    }
    this.weights.set(weights);
    for (const slot of this.optimizerState.slots) slot.fill(0);
    this.optimizerState.step = 0;
    this.outerMomentum?.fill(0);
    // The applied push ids stay: a push from before the reset must not be applied after it either.
    this.round.reset();
    this.version++;
    return { version: this.version };
  }

  private checkpoint(): ShardCheckpoint {
    const appliedPushes = this.applied.list();
    return {
      index: this.index,
      offset: this.offset,
      version: this.version,
      weights: this.currentSnapshot(),
      optimizerState: {
        step: this.optimizerState.step,
        slots: this.optimizerState.slots.map((slot) => Float32Array.from(slot)),
      },
      // Absent (not undefined) when there is none: the checkpoint codecs write them iff present.
      ...(this.outerMomentum !== null ? { outerMomentum: Float32Array.from(this.outerMomentum) } : {}),
      ...(appliedPushes.length > 0 ? { appliedPushes } : {}),
    };
  }

  private restore({
    version,
    optimizerState,
    outerMomentum,
  }: NonNullable<ShardActorOptions['restore']>): void {
    const slots = this.optimizerState.slots;
    if (
      optimizerState.slots.length !== slots.length ||
      optimizerState.slots.some((s) => s.length !== this.length)
    ) {
      throw new RangeError(`shard ${this.index}: the saved optimizer state does not fit ${this.rule.name}`);
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

/**
 * Ids are what makes an update at most once: a message from an older coordinator without one would
 * otherwise be keyed `undefined`, and every apply after the first would look like a repeat.
 */
function requireId(id: unknown, type: string, field: string): void {
  if (typeof id !== 'string' || id.length === 0) {
    throw new TypeError(`${type} needs a ${field} (a non-empty string), got ${String(id)}`);
  }
}
