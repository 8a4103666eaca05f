/**
 * Per-push checks on a volunteer's gradient, before it reaches an aggregate: its L2 norm, clipping to a
 * norm, a rolling robust baseline of accepted norms that flags outliers, and per-worker trust.
 * Pure computation (no tf, no sockets, no clock): the caller decides what a flag costs the worker.
 *
 * Typical use for one push from worker `id`:
 *   if (trust.refuses(id)) refuse;
 *   const norm = l2Norm(g);
 *   if (history.isOutlier(norm)) { trust.recordBad(id); refuse, or clip to history.upperLimit() }
 *   else { history.add(norm); trust.recordGood(id); weight = batchSize * trust.weightFor(id) }
 */

/** ||g||_2, accumulated in float64: cannot overflow for finite float32 values (3.3M * (3.4e38)^2 < 1e308). */
export function l2Norm(g: Float32Array): number {
  // Two accumulators break the add-latency chain: measured 1.0 -> 0.7 ms per 1M floats (four: 0.65).
  let s0 = 0;
  let s1 = 0;
  const n = g.length;
  const even = n - (n & 1);
  for (let i = 0; i < even; i += 2) {
    const a = g[i];
    const b = g[i + 1];
    s0 += a * a;
    s1 += b * b;
  }
  if (even < n) s0 += g[even] * g[even];
  return Math.sqrt(s0 + s1);
}

/**
 * Scales `g` down to L2 norm `maxNorm` when it is longer. Returns `g` itself when it is not (no copy), else a
 * scaled copy: the caller's array is never modified. `norm` is g's norm before clipping. The copy's norm is
 * maxNorm up to float32 rounding (relative 1e-7, either side). `maxNorm` > 0; Infinity never clips.
 */
export function clipToNorm(
  g: Float32Array,
  maxNorm: number,
): { clipped: Float32Array; norm: number; scaled: boolean } {
  if (!(maxNorm > 0)) throw new RangeError(`maxNorm must be > 0, got ${maxNorm}`);
  const norm = l2Norm(g);
  if (norm <= maxNorm) return { clipped: g, norm, scaled: false };
  const scale = maxNorm / norm;
  const n = g.length;
  const clipped = new Float32Array(n);
  for (let i = 0; i < n; i++) clipped[i] = g[i] * scale;
  return { clipped, norm, scaled: true };
}

export interface OutlierOptions {
  /** Accepted norms needed before anything is flagged: a baseline of fewer is noise. Default 20. */
  minSamples?: number;
  /** Flag a norm above median + threshold * spread. Default 6 (a 6-sigma event for a normal stream). */
  threshold?: number;
}

export const DEFAULT_NORM_HISTORY_CAPACITY = 100;
export const DEFAULT_OUTLIER_MIN_SAMPLES = 20;
export const DEFAULT_OUTLIER_THRESHOLD = 6;
/** MAD * 1.4826 estimates the standard deviation of a normal distribution. */
export const MAD_TO_SIGMA = 1.4826;
/**
 * Lower bound on the spread, as a fraction of the median. Without it a stream of (nearly) identical norms has
 * MAD ~ 0 and the next honest norm a hair above the median is an "outlier". With the defaults, nothing within
 * 1.3x the median is ever flagged; minibatch gradient norms routinely vary by more than 5% push to push.
 */
export const MIN_RELATIVE_SPREAD = 0.05;

/**
 * The last `capacity` accepted gradient norms (bounded memory) and an outlier test against their median
 * and median absolute deviation, robust to the outliers themselves.
 *
 * Add only norms you accepted: refused ones must not move the baseline, or a worker could drag it up with a
 * stream of ever larger pushes. The flip side is that a genuine jump in the norm (a loss spike) is refused
 * until something moves the baseline: clip such a push to `upperLimit()` and add the clipped norm, and the
 * limit catches up (measured with capacity 100: a 1.5x jump is accepted after 50 such pushes, 3x-10x after
 * ~100, 100x after ~200). When most workers are flagged at once, suspect the baseline, not all of them.
 *
 * With `maxShare` < 1, a norm added with its owner (a volunteer) counts against that owner's share: an
 * owner at `maxShare * capacity` norms replaces its own oldest, so that it still follows its drift but
 * cannot make the baseline alone (many small norms from one fast pusher would pull the limit under
 * everyone else's).
 */
export class NormHistory {
  readonly capacity: number;
  /** Norms one owner may hold. */
  private readonly perOwner: number;
  /** Oldest first. */
  private readonly samples: { readonly norm: number; readonly owner: string | undefined }[] = [];
  private readonly held = new Map<string, number>();
  /** [median, spread] of the samples, or undefined after an add. */
  private stats: [number, number] | undefined;

  constructor(capacity = DEFAULT_NORM_HISTORY_CAPACITY, maxShare = 1) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    }
    if (!(maxShare > 0 && maxShare <= 1)) throw new RangeError(`maxShare must be in (0, 1], got ${maxShare}`);
    this.capacity = capacity;
    this.perOwner = Math.max(1, Math.floor(capacity * maxShare));
  }

  /** Accepted norms held (at most `capacity`). */
  get size(): number {
    return this.samples.length;
  }

  /** Norms `owner` holds now. */
  heldBy(owner: string): number {
    return this.held.get(owner) ?? 0;
  }

  /**
   * Records an accepted norm (finite, >= 0), evicting the oldest when full, or `owner`'s own oldest when
   * it holds its share.
   */
  add(norm: number, owner?: string): void {
    if (!(Number.isFinite(norm) && norm >= 0))
      throw new RangeError(`norm must be finite and >= 0, got ${norm}`);
    if (owner !== undefined && this.heldBy(owner) >= this.perOwner) {
      this.remove(this.samples.findIndex((s) => s.owner === owner));
    } else if (this.samples.length >= this.capacity) {
      this.remove(0);
    }
    this.samples.push({ norm, owner });
    if (owner !== undefined) this.held.set(owner, this.heldBy(owner) + 1);
    this.stats = undefined;
  }

  /** median + threshold * max(1.4826 * MAD, 0.05 * median); Infinity while fewer than minSamples are held. */
  upperLimit(options: OutlierOptions = {}): number {
    const { minSamples = DEFAULT_OUTLIER_MIN_SAMPLES, threshold = DEFAULT_OUTLIER_THRESHOLD } = options;
    if (!(Number.isSafeInteger(minSamples) && minSamples >= 1)) {
      throw new RangeError(`minSamples must be an integer >= 1, got ${minSamples}`);
    }
    if (!(Number.isFinite(threshold) && threshold > 0)) {
      throw new RangeError(`threshold must be finite and > 0, got ${threshold}`);
    }
    if (this.samples.length < minSamples) return Infinity;
    const [median, spread] = (this.stats ??= this.computeStats());
    return median + threshold * spread;
  }

  /** Whether `norm` is above `upperLimit(options)`. A NaN or infinite norm is always an outlier. */
  isOutlier(norm: number, options: OutlierOptions = {}): boolean {
    if (!Number.isFinite(norm)) return true;
    return norm > this.upperLimit(options);
  }

  private remove(index: number): void {
    const [{ owner }] = this.samples.splice(index, 1);
    if (owner === undefined) return;
    const left = this.heldBy(owner) - 1;
    if (left > 0) this.held.set(owner, left);
    else this.held.delete(owner);
  }

  private computeStats(): [number, number] {
    const s = Float64Array.from(this.samples, (sample) => sample.norm);
    s.sort();
    const median = middle(s);
    for (let i = 0; i < s.length; i++) s[i] = Math.abs(s[i] - median);
    s.sort();
    return [median, Math.max(MAD_TO_SIGMA * middle(s), MIN_RELATIVE_SPREAD * median)];
  }
}

/** Median of a sorted, non-empty array. */
function middle(sorted: Float64Array): number {
  const n = sorted.length;
  return (sorted[(n - 1) >> 1] + sorted[n >> 1]) * 0.5;
}

export interface TrustOptions {
  /** Trust of a worker not seen (or forgotten). Default 1: newcomers are trusted fully. */
  initial: number;
  /** Factor applied on a bad push (an outlier, a clipped gradient). Default 0.5. */
  penalty: number;
  /** Added on a good push, up to 1. Default 0.02. */
  recovery: number;
}

/**
 * The defaults, and what they imply with `refuses`' default threshold 0.2:
 *   - three bad pushes in a row refuse a fully trusted worker (1 -> 0.5 -> 0.25 -> 0.125);
 *   - one bad push costs 25 good ones to recover from (0.5 -> 1 at +0.02);
 *   - a worker with one bad push in every k tends to trust 0.02 (k - 1) just after each bad one (the fixed
 *     point of t -> 0.5 (t + 0.02 (k - 1))), so one bad push in 10 or more often ends in refusal, while an
 *     honest worker with a rare false flag (say 1 in 100) is back at full weight 25 pushes later.
 */
export const DEFAULT_TRUST_OPTIONS: Readonly<TrustOptions> = Object.freeze({
  initial: 1,
  penalty: 0.5,
  recovery: 0.02,
});
export const DEFAULT_MIN_TRUST = 0.2;

/**
 * Trust in [0, 1] per worker id. A refused worker is not meant to push, so it cannot earn trust back: refusal
 * lasts until `forget(id)` (e.g. when it leaves). Key by an id the worker cannot renew at will, or set `initial`
 * below 1 so that a fresh identity starts on probation.
 *
 * Memory: only workers whose trust differs from `initial` have an entry; `forget` drops one on leave.
 */
export class TrustScores {
  private readonly options: Readonly<TrustOptions>;
  private readonly scores = new Map<string, number>();

  constructor(options: Partial<TrustOptions> = {}) {
    // Field by field, so an explicit `undefined` means the default too.
    const o: TrustOptions = {
      initial: options.initial ?? DEFAULT_TRUST_OPTIONS.initial,
      penalty: options.penalty ?? DEFAULT_TRUST_OPTIONS.penalty,
      recovery: options.recovery ?? DEFAULT_TRUST_OPTIONS.recovery,
    };
    if (!(o.initial > 0 && o.initial <= 1))
      throw new RangeError(`initial must be in (0, 1], got ${o.initial}`);
    if (!(o.penalty > 0 && o.penalty < 1))
      throw new RangeError(`penalty must be in (0, 1), got ${o.penalty}`);
    if (!(o.recovery >= 0 && o.recovery <= 1)) {
      throw new RangeError(`recovery must be in [0, 1], got ${o.recovery}`);
    }
    this.options = Object.freeze(o);
  }

  /** Current trust of `id`. */
  get(id: string): number {
    return this.scores.get(id) ?? this.options.initial;
  }

  /** After a push that passed the checks: trust + recovery, capped at 1. Returns the new trust. */
  recordGood(id: string): number {
    return this.set(id, Math.min(1, this.get(id) + this.options.recovery));
  }

  /** After a flagged push (outlier, clipped): trust * penalty. Returns the new trust. */
  recordBad(id: string): number {
    return this.set(id, this.get(id) * this.options.penalty);
  }

  /** Factor for `id`'s weight in a weighted mean (multiply its batch size by it). Equal to its trust. */
  weightFor(id: string): number {
    return this.get(id);
  }

  /** Whether `id`'s pushes should be refused: trust below `minTrust`. */
  refuses(id: string, minTrust = DEFAULT_MIN_TRUST): boolean {
    return this.get(id) < minTrust;
  }

  /** Drops `id` (it left): should it come back, it starts again at `initial`. */
  forget(id: string): void {
    this.scores.delete(id);
  }

  /** Workers with an entry (trust != initial). */
  get size(): number {
    return this.scores.size;
  }

  private set(id: string, trust: number): number {
    if (trust === this.options.initial) this.scores.delete(id);
    else this.scores.set(id, trust);
    return trust;
  }
}
