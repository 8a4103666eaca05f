import { ErrorCode, HubError } from '../../shared/errors.js';
import type { GradientPiece } from './ShardActor.js';
import {
  DEFAULT_NORM_HISTORY_CAPACITY,
  DEFAULT_TRUST_OPTIONS,
  NormHistory,
} from '../aggregation/gradientGuard.js';
import { PROBATION_TRUST, VolunteerTrust } from './VolunteerTrust.js';

export interface GradientScreenOptions {
  /** Gradients with a larger L2 norm are scaled down to it (`--clip-norm`). */
  readonly clipNorm?: number;
  /**
   * Keep a trust score per volunteer (`--trust`, see VolunteerTrust): a gradient more than twice the limit of the recent
   * accepted norms of trusted volunteers (BASELINE_TRUST; before there are enough of them, `clipNorm`) is refused (OUTLIER) and
   * costs its worker trust; one a little above it is clipped; the worker's updates are weighted by its trust, and a worker whose trust falls below the
   * floor is refused altogether (UNTRUSTED).
   */
  readonly trust?: boolean;
}

export interface ScreenedGradient {
  readonly piecesByShard: ReadonlyMap<number, readonly GradientPiece[]>;
  /** Multiplies the learning rate of this worker's update: its trust (1 without `trust`). */
  readonly weight: number;
}

/** With trust on, a norm more than this many times the baseline's limit is refused; up to it, clipped. */
const REFUSE_ABOVE_BASELINE = 2;
/**
 * Trust a volunteer needs before its norms shape the baseline: five good pushes past a newcomer's
 * probation (from an address whose volunteers lost trust, eighteen); half a step of slack for float
 * sums. A fresh identity costs nothing, so identities that come and go (a poisoner reconnecting as a
 * newcomer, a crowd of them) are screened against the baseline but never move it: otherwise their
 * small, accepted norms could pull the limit under the honest norms, and the honest volunteers would
 * be refused as OUTLIER, then UNTRUSTED.
 */
export const BASELINE_TRUST = PROBATION_TRUST + 4.5 * DEFAULT_TRUST_OPTIONS.recovery;
/** The largest share of the baseline's norms one volunteer holds: a fast pusher cannot make it alone. */
export const MAX_VOLUNTEER_SHARE = 0.25;
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
  private readonly recentNorms = new NormHistory(DEFAULT_NORM_HISTORY_CAPACITY, MAX_VOLUNTEER_SHARE);

  constructor(
    private readonly options: GradientScreenOptions,
    /** Shared by the screens of one run: a volunteer's trust is the same whatever it pushes. */
    readonly trust = new VolunteerTrust(),
  ) {}

  get active(): boolean {
    return this.options.clipNorm !== undefined || this.options.trust === true;
  }

  screen(volunteer: string, piecesByShard: ReadonlyMap<number, readonly GradientPiece[]>): ScreenedGradient {
    if (!this.active) return { piecesByShard, weight: 1 };
    const { clipNorm, trust } = this.options;
    if (this.refuses(volunteer)) {
      throw new HubError(
        ErrorCode.Untrusted,
        `this worker's recent gradients were far out of line (trust ${this.trust.get(volunteer).toFixed(2)}); its pushes are refused`,
      );
    }
    const norm = normOf(piecesByShard);
    let limit = clipNorm ?? Infinity;
    if (trust) {
      // The recent accepted norms' limit; before there are enough of them, --clip-norm stands in.
      const baseline =
        this.recentNorms.size >= OUTLIER_OPTIONS.minSamples
          ? this.recentNorms.upperLimit(OUTLIER_OPTIONS)
          : limit;
      // Far above it: refused, not clipped (under Adam even a clipped bad gradient lingers in the
      // second moment for thousands of steps), and it costs trust. A little above it: clipped, at
      // no cost: honest norms drift up together (measured: 1.2-1.4x the limit in sync rounds), and
      // the clipped norms let the baseline follow.
      if (norm > REFUSE_ABOVE_BASELINE * baseline) {
        const trustLeft = this.trust.recordBad(volunteer);
        throw new HubError(
          ErrorCode.Outlier,
          `gradient norm ${norm.toPrecision(3)} is far above the recent accepted norms (limit ${baseline.toPrecision(3)}); refused (trust now ${trustLeft.toFixed(2)})`,
        );
      }
      if (norm <= baseline) this.trust.recordGood(volunteer);
      limit = Math.min(limit, baseline);
    }
    const scale = norm > limit ? limit / norm : 1;
    // Only accepted (clipped) norms feed the baseline, so outliers cannot drag it up; and only those of
    // volunteers that earned trust, each up to its share of them, so that newcomers, or one
    // fast pusher, cannot drag it down under the honest norms.
    if (trust && this.trust.get(volunteer) >= BASELINE_TRUST) this.recentNorms.add(norm * scale, volunteer);
    return {
      piecesByShard: scale === 1 ? piecesByShard : scaled(piecesByShard, scale),
      weight: trust ? this.trust.get(volunteer) : 1,
    };
  }

  /** `--trust`: this volunteer's pushes are refused (UNTRUSTED); sync rounds do not wait for it. */
  refuses(volunteer: string): boolean {
    return this.options.trust === true && this.trust.refuses(volunteer, MIN_TRUST);
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
