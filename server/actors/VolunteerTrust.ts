import { DEFAULT_TRUST_OPTIONS } from '../aggregation/gradientGuard.js';

/**
 * A newcomer's trust: its updates count half until its pushes have earned the rest (+recovery each),
 * so a fresh identity, which anyone can make at will, never starts with full weight.
 */
export const PROBATION_TRUST = 0.5;
/**
 * A newcomer from an address whose volunteers lost trust starts at that lowest trust, but not below
 * this: a poisoner that drops its identity and reconnects starts here, one bad push from refusal,
 * while an honest newcomer behind the same address (a NAT) can still earn its way up.
 */
export const ADDRESS_FLOOR_TRUST = 0.25;
/** What trust needs of a spot check's verdict. */
export interface SpotCheckOutcome {
  readonly passed: boolean;
  readonly kind: 'gradient' | 'replay';
}

/** What a checkpoint keeps of VolunteerTrust, least recently seen first. */
export interface VolunteerTrustState {
  readonly scores: readonly (readonly [string, number])[];
  readonly lowestByAddress: readonly (readonly [string, number])[];
  readonly addressOf: readonly (readonly [string, string])[];
}

/** Volunteers and addresses remembered; the least recently seen are forgotten first. */
const MAX_REMEMBERED = 10_000;

/**
 * Trust per volunteer, not per connection: keyed by the identity the hub issued at hello (a bearer
 * token the volunteer's client keeps across reconnects and page loads), so reaching UNTRUSTED and
 * reconnecting changes nothing. A volunteer without one (or with one this hub never issued) is a
 * newcomer on probation; the lowest trust seen from its address bounds where it starts.
 */
export class VolunteerTrust {
  private readonly scores = new Map<string, number>();
  /** Per address, the lowest trust any of its volunteers fell to. */
  private readonly lowestByAddress = new Map<string, number>();
  private readonly addressOf = new Map<string, string>();

  constructor(
    private readonly penalty = DEFAULT_TRUST_OPTIONS.penalty,
    private readonly recovery = DEFAULT_TRUST_OPTIONS.recovery,
  ) {}

  /** Everything it remembers, for a checkpoint (and a coordinator that takes over from this one). */
  state(): VolunteerTrustState {
    return {
      scores: [...this.scores],
      lowestByAddress: [...this.lowestByAddress],
      addressOf: [...this.addressOf],
    };
  }

  /** Carries on from a checkpoint's state (replacing what it remembered). */
  restore(state: VolunteerTrustState): void {
    const fill = <V>(map: Map<string, V>, entries: readonly (readonly [string, V])[]): void => {
      map.clear();
      for (const [key, value] of entries) remember(map, key, value);
    };
    fill(this.scores, state.scores);
    fill(this.lowestByAddress, state.lowestByAddress);
    fill(this.addressOf, state.addressOf);
  }

  /** A volunteer connected (again): a newcomer starts on probation, or lower if its address earned it. */
  admit(volunteer: string, address: string | undefined): void {
    if (address !== undefined) remember(this.addressOf, volunteer, address);
    if (this.scores.has(volunteer)) {
      remember(this.scores, volunteer, this.scores.get(volunteer)!);
      return;
    }
    const lowest = address === undefined ? undefined : this.lowestByAddress.get(address);
    const start =
      lowest === undefined
        ? PROBATION_TRUST
        : Math.min(PROBATION_TRUST, Math.max(lowest, ADDRESS_FLOOR_TRUST));
    remember(this.scores, volunteer, start);
  }

  get(volunteer: string): number {
    return this.scores.get(volunteer) ?? PROBATION_TRUST;
  }

  /** After a push that passed the checks: trust + recovery, capped at 1. */
  recordGood(volunteer: string): number {
    return this.set(volunteer, Math.min(1, this.get(volunteer) + this.recovery));
  }

  /** After a refused or failed push: trust x penalty, remembered against its address too. */
  recordBad(volunteer: string, penalty = this.penalty): number {
    const trust = this.set(volunteer, this.get(volunteer) * penalty);
    const address = this.addressOf.get(volunteer);
    if (address !== undefined) {
      remember(this.lowestByAddress, address, Math.min(trust, this.lowestByAddress.get(address) ?? 1));
    }
    return trust;
  }

  /**
   * A spot check's verdict (it reaches a volunteer whose worker left since): a pass earns +recovery,
   * a failure costs more for a recomputed gradient (x0.25) than for a replay, a rougher match (x0.5).
   */
  recordCheck(volunteer: string, { passed, kind }: SpotCheckOutcome): number {
    if (passed) return this.recordGood(volunteer);
    return this.recordBad(volunteer, kind === 'gradient' ? 0.25 : 0.5);
  }

  refuses(volunteer: string, minTrust: number): boolean {
    return this.get(volunteer) < minTrust;
  }

  private set(volunteer: string, trust: number): number {
    remember(this.scores, volunteer, trust);
    return trust;
  }
}

/** Sets `key` as the most recently used entry, forgetting the oldest beyond MAX_REMEMBERED. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string);
}
