import { aggregate, type AggregationRule } from '../aggregation/robustAggregate.js';
import { RoundNotPreparedError, type GradientPiece, type ShardReplies } from './shardMessages.js';

/** The round being accumulated. */
interface Pending {
  readonly id: number;
  /** Push ids added, so that a repeat (a retried push, a second coordinator) is not summed twice. */
  readonly contributions: Set<string>;
  weight: number;
  /** Robust rules only: each value, and its weight. */
  readonly gradients: Float32Array[];
  readonly weights: number[];
  /** prepareRound said ready, and nothing was added since. */
  prepared: boolean;
}

/**
 * A shard's pending sync or local round: each push's values added once under its push id, the
 * two-phase close's `prepare` and `drop`, and the combination of a prepared round (weighted mean,
 * or the robust `aggregation` rule). One per ShardActor; it knows nothing of weights or versions.
 */
export class RoundAccumulator {
  private pending: Pending | null = null;
  /** The weighted mean's running sum, [length] float32, reused across rounds. */
  private sum: Float32Array | null = null;
  /** Centered clipping starts from the previous round's aggregate (its "history"). */
  private previousAggregate: Float32Array | null = null;

  constructor(
    private readonly shard: number,
    private readonly length: number,
    private readonly aggregation: AggregationRule,
  ) {}

  /**
   * Adds a push's pieces (at `offsets` inside the shard, checked by the caller) to round `round`. A
   * round other than the pending one replaces it: rounds close in order, so the old one is done with.
   */
  add(
    round: number,
    contribution: string,
    pieces: readonly GradientPiece[],
    offsets: readonly number[],
    weight: number,
  ): ShardReplies['accumulate'] {
    if (this.pending === null || this.pending.id !== round) this.pending = this.open(round);
    const pending = this.pending;
    if (pending.contributions.has(contribution)) {
      return { round, count: pending.contributions.size, duplicate: true };
    }
    if (this.aggregation === 'mean') {
      const sum = this.sum!;
      pieces.forEach((piece, p) => {
        const start = offsets[p];
        const values = piece.values;
        for (let i = 0; i < values.length; i++) sum[start + i] += weight * values[i];
      });
    } else {
      // A copy: the pieces are views of a socket message that is not ours to keep.
      const gradient = new Float32Array(this.length);
      pieces.forEach((piece, p) => gradient.set(piece.values, offsets[p]));
      pending.gradients.push(gradient);
      pending.weights.push(weight);
    }
    pending.contributions.add(contribution);
    pending.weight += weight;
    // It no longer holds exactly what was prepared.
    pending.prepared = false;
    return { round, count: pending.contributions.size };
  }

  /**
   * Ready iff the pending round is `round` and holds exactly `contributions`; an empty list is ready
   * when the shard holds nothing of `round` (a shard no push of the round touched), and prepares an
   * empty round. Not ready leaves the pending round unprepared, so no apply can follow it.
   */
  prepare(round: number, contributions: readonly string[]): ShardReplies['prepareRound'] {
    const pending = this.pending?.id === round ? this.pending : null;
    const have = pending?.contributions.size ?? 0;
    if (contributions.length === 0 && have === 0) {
      this.pending = pending ?? this.open(round);
      this.pending.prepared = true;
      return { round, ready: true, have };
    }
    const wanted = new Set(contributions);
    const ready =
      pending !== null &&
      wanted.size === contributions.length &&
      wanted.size === have &&
      [...wanted].every((id) => pending.contributions.has(id));
    if (pending) pending.prepared = ready;
    return { round, ready, have };
  }

  drop(round: number): ShardReplies['dropRound'] {
    if (this.pending?.id !== round) return { round, dropped: false };
    this.pending = null;
    return { round, dropped: true };
  }

  /**
   * Throws RoundNotPreparedError, changing nothing, unless `round` is prepared. Called before
   * anything of an apply is done, so that a refused apply touches nothing.
   */
  requirePrepared(round: number): void {
    if (this.pending?.id !== round || !this.pending.prepared)
      throw new RoundNotPreparedError(this.shard, round);
  }

  /**
   * The prepared round's values combined, and the round is done with: their weighted mean (computed
   * in place in the sum buffer: the caller must not keep it), or the robust rule's aggregate; null
   * when the round holds nothing. Throws as `requirePrepared`.
   */
  take(round: number): { count: number; values: Float32Array } | null {
    this.requirePrepared(round);
    const pending = this.pending!;
    this.pending = null;
    const count = pending.contributions.size;
    if (count === 0) return null;
    if (this.aggregation === 'mean') {
      const sum = this.sum!;
      const inverse = 1 / pending.weight;
      for (let i = 0; i < sum.length; i++) sum[i] *= inverse;
      return { count, values: sum };
    }
    const values = aggregate(this.aggregation, pending.gradients, pending.weights, {
      center: this.previousAggregate ?? undefined,
    });
    this.previousAggregate = values;
    return { count, values };
  }

  /** The run starts over: no pending round, no aggregation history. */
  reset(): void {
    this.pending = null;
    this.previousAggregate = null;
  }

  private open(round: number): Pending {
    if (this.aggregation === 'mean') {
      this.sum ??= new Float32Array(this.length);
      this.sum.fill(0);
    }
    return { id: round, contributions: new Set(), weight: 0, gradients: [], weights: [], prepared: false };
  }
}
