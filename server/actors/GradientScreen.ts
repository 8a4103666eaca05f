import { ErrorCode, HubError } from '../../shared/errors.js';
import { NormHistory, TrustScores } from '../aggregation/gradientGuard.js';
import type { GradientPiece } from './ShardActor.js';

export interface GradientScreenOptions {
  /** Gradients with a larger L2 norm are scaled down to it (`--clip-norm`). */
  readonly clipNorm?: number;
  /**
   * Keep a trust score per worker (`--trust`): a gradient far above the recent accepted norms is
   * clipped to their limit and costs its worker trust; the worker's updates are weighted by its
   * trust, and a worker whose trust falls below the floor is refused (UNTRUSTED).
   */
  readonly trust?: boolean;
}

export interface ScreenedGradient {
  readonly piecesByShard: ReadonlyMap<number, readonly GradientPiece[]>;
  /** Multiplies the learning rate of this worker's update: its trust (1 without `trust`). */
  readonly weight: number;
}

/** Trust below which a worker's gradients are refused. */
const MIN_TRUST = 0.2;
/**
 * Accepted norms needed before a gradient can be called out of line. Small on purpose: under Adam a
 * few huge gradients early on slow a run down for thousands of steps (its second moment remembers).
 */
const OUTLIER_OPTIONS = { minSamples: 8 };

/**
 * Looks at every gradient before anything is applied: its norm against `clipNorm` and against the
 * recent accepted norms, and its worker's trust. Per-shard pieces are scaled as one vector.
 */
export class GradientScreen {
  private readonly history = new NormHistory();
  private readonly trust = new TrustScores();

  constructor(private readonly options: GradientScreenOptions) {}

  get active(): boolean {
    return this.options.clipNorm !== undefined || this.options.trust === true;
  }

  screen(workerId: string, piecesByShard: ReadonlyMap<number, readonly GradientPiece[]>): ScreenedGradient {
    if (!this.active) return { piecesByShard, weight: 1 };
    const { clipNorm, trust } = this.options;
    if (trust && this.trust.refuses(workerId, MIN_TRUST)) {
      throw new HubError(
        ErrorCode.Untrusted,
        `this worker's recent gradients were far out of line (trust ${this.trust.get(workerId).toFixed(2)}); its pushes are refused`,
      );
    }
    const norm = normOf(piecesByShard);
    let limit = clipNorm ?? Infinity;
    if (trust && this.history.isOutlier(norm, OUTLIER_OPTIONS)) {
      this.trust.recordBad(workerId);
      limit = Math.min(limit, this.history.upperLimit(OUTLIER_OPTIONS));
    } else if (trust) {
      this.trust.recordGood(workerId);
    }
    const scale = norm > limit ? limit / norm : 1;
    // Only accepted (clipped) norms feed the baseline, so outliers cannot drag it up.
    this.history.add(norm * scale);
    return {
      piecesByShard: scale === 1 ? piecesByShard : scaled(piecesByShard, scale),
      weight: trust ? this.trust.weightFor(workerId) : 1,
    };
  }

  forget(workerId: string): void {
    this.trust.forget(workerId);
  }
}

function normOf(piecesByShard: ReadonlyMap<number, readonly GradientPiece[]>): number {
  let sum = 0;
  for (const pieces of piecesByShard.values()) {
    for (const { values } of pieces) for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  }
  return Math.sqrt(sum);
}

function scaled(
  piecesByShard: ReadonlyMap<number, readonly GradientPiece[]>,
  scale: number,
): Map<number, GradientPiece[]> {
  const out = new Map<number, GradientPiece[]>();
  for (const [shard, pieces] of piecesByShard) {
    out.set(
      shard,
      pieces.map(({ offset, values }) => ({ offset, values: values.map((v) => v * scale) })),
    );
  }
  return out;
}
