import {
  DEFAULT_NORM_HISTORY_CAPACITY,
  DEFAULT_OUTLIER_MIN_SAMPLES,
  DEFAULT_OUTLIER_THRESHOLD,
  DEFAULT_TRUST_OPTIONS,
  medianAndSpread,
  type OutlierOptions,
} from '../aggregation/gradientGuard.js';
import { PROBATION_TRUST } from './VolunteerTrust.js';

/**
 * Trust a volunteer needs before its norms shape the baseline: five good pushes past a newcomer's
 * probation (from an address whose volunteers lost trust, eighteen). A fresh identity costs nothing,
 * so identities that come and go (a poisoner reconnecting as a newcomer, a crowd of them) are
 * screened against the baseline but never move it.
 */
export const BASELINE_TRUST = PROBATION_TRUST + 4.5 * DEFAULT_TRUST_OPTIONS.recovery; // half a step of slack for float sums

/** The largest share of the samples one volunteer holds: a fast pusher cannot make the baseline alone. */
export const MAX_VOLUNTEER_SHARE = 0.25;

interface Sample {
  readonly volunteer: string;
  readonly norm: number;
}

/**
 * The recent accepted norms that GradientScreen's outlier limit is drawn from (median + threshold x
 * spread, as NormHistory's), with each volunteer holding at most MAX_VOLUNTEER_SHARE of them: a
 * volunteer at its share replaces its own oldest sample, so its baseline still follows its drift.
 * Without the share, one volunteer pushing many small norms (each accepted: it is below the limit)
 * could pull the limit down until every honest gradient is refused as an OUTLIER and its sender
 * ends in UNTRUSTED.
 */
export class NormBaseline {
  private readonly samples: Sample[] = [];
  private readonly held = new Map<string, number>();
  private readonly perVolunteer: number;
  /** [median, spread] of the samples, or undefined after a change. */
  private stats: [number, number] | undefined;

  constructor(readonly capacity = DEFAULT_NORM_HISTORY_CAPACITY) {
    this.perVolunteer = Math.max(1, Math.floor(capacity * MAX_VOLUNTEER_SHARE));
  }

  get size(): number {
    return this.samples.length;
  }

  /** Samples `volunteer` holds now. */
  heldBy(volunteer: string): number {
    return this.held.get(volunteer) ?? 0;
  }

  /** Records an accepted norm (finite, >= 0) of `volunteer`'s. */
  add(volunteer: string, norm: number): void {
    if (!(Number.isFinite(norm) && norm >= 0))
      throw new RangeError(`norm must be finite and >= 0, got ${norm}`);
    if (this.heldBy(volunteer) >= this.perVolunteer) {
      this.remove(this.samples.findIndex((s) => s.volunteer === volunteer));
    } else if (this.samples.length >= this.capacity) {
      this.remove(0);
    }
    this.samples.push({ volunteer, norm });
    this.held.set(volunteer, this.heldBy(volunteer) + 1);
    this.stats = undefined;
  }

  /** median + threshold x spread of the samples; Infinity while fewer than minSamples are held. */
  upperLimit({
    minSamples = DEFAULT_OUTLIER_MIN_SAMPLES,
    threshold = DEFAULT_OUTLIER_THRESHOLD,
  }: OutlierOptions = {}): number {
    if (this.samples.length < minSamples) return Infinity;
    const [median, spread] = (this.stats ??= medianAndSpread(Float64Array.from(this.samples, (s) => s.norm)));
    return median + threshold * spread;
  }

  private remove(index: number): void {
    const [{ volunteer }] = this.samples.splice(index, 1);
    const left = this.heldBy(volunteer) - 1;
    if (left > 0) this.held.set(volunteer, left);
    else this.held.delete(volunteer);
  }
}
