import { createHash } from 'node:crypto';
import type { VolunteerStanding } from '../../shared/volunteerStanding.js';

export type { VolunteerStanding };

/** What one volunteer has given the run, as a checkpoint keeps it. */
export interface CreditRecord {
  /** Their display name, as their last hello gave it; null without one. */
  readonly name: string | null;
  /** Examples behind their accepted pushes (gradients or local rounds' changes). */
  readonly examples: number;
  readonly pushes: number;
  /** Pushes the hub recomputed (spot checks) that matched. */
  readonly verified: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

/** What a checkpoint keeps of VolunteerCredit: by volunteer key, least recently seen first. */
export type VolunteerCreditState = readonly (readonly [string, CreditRecord])[];

/** Volunteers remembered; the least recently seen are forgotten first. */
const MAX_REMEMBERED = 10_000;

/**
 * Credit per volunteer (the identity the hub issued at hello, so one browser profile's tabs and
 * reloads add up), kept in the run's checkpoints so that it survives hub restarts. Examples count
 * when a push is accepted; a round that is then aborted has still cost the volunteer the work.
 */
export class VolunteerCredit {
  private readonly records = new Map<string, CreditRecord>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A hello: remembered from now on (with no credit yet), with its display name. */
  seen(volunteer: string, name: string | undefined): void {
    const at = this.now();
    const record = this.records.get(volunteer);
    this.set(volunteer, {
      name: name ?? record?.name ?? null,
      examples: record?.examples ?? 0,
      pushes: record?.pushes ?? 0,
      verified: record?.verified ?? 0,
      firstSeen: record?.firstSeen ?? at,
      lastSeen: at,
    });
  }

  /** An accepted push of `examples`. */
  credit(volunteer: string, examples: number): void {
    const record = this.recordOf(volunteer);
    this.set(volunteer, {
      ...record,
      examples: record.examples + examples,
      pushes: record.pushes + 1,
      lastSeen: this.now(),
    });
  }

  /** A spot check that matched. */
  verified(volunteer: string): void {
    const record = this.recordOf(volunteer);
    this.set(volunteer, { ...record, verified: record.verified + 1 });
  }

  /** Best first (most examples; ties: earliest volunteer first). `online`: workers per volunteer now. */
  standings(online: ReadonlyMap<string, number>): VolunteerStanding[] {
    const all = [...this.records].filter(([key, record]) => record.pushes > 0 || online.has(key));
    const total = all.reduce((sum, [, record]) => sum + record.examples, 0);
    all.sort(([, a], [, b]) => b.examples - a.examples || a.firstSeen - b.firstSeen);
    return all.map(([key, { firstSeen: _firstSeen, ...record }], index) => ({
      volunteer: publicVolunteerName(key),
      ...record,
      share: total > 0 ? record.examples / total : 0,
      rank: index + 1,
      online: online.get(key) ?? 0,
    }));
  }

  state(): VolunteerCreditState {
    return [...this.records];
  }

  restore(state: VolunteerCreditState): void {
    this.records.clear();
    for (const [key, record] of state) this.set(key, record);
  }

  private recordOf(volunteer: string): CreditRecord {
    const record = this.records.get(volunteer);
    if (record) return record;
    const at = this.now();
    return { name: null, examples: 0, pushes: 0, verified: 0, firstSeen: at, lastSeen: at };
  }

  private set(volunteer: string, record: CreditRecord): void {
    this.records.delete(volunteer);
    this.records.set(volunteer, record);
    if (this.records.size > MAX_REMEMBERED) this.records.delete(this.records.keys().next().value as string);
  }
}

/**
 * The identity token is a bearer secret (whoever shows it inherits the volunteer's trust and
 * credit), so pages and metrics show a short hash of it instead: stable across reconnects, useless
 * to impersonate.
 */
export function publicVolunteerName(volunteer: string): string {
  return `v-${createHash('sha256').update(volunteer).digest('hex').slice(0, 8)}`;
}
