import type { KV, KvEntry } from '@nats-io/kv';

/** The key of the coordinators' bucket that says who coordinates the run. */
export const LEADER_KEY = 'leader';
/** A holder that has not renewed for this long is taken over. */
export const DEFAULT_LEASE_MS = 3_000;
/** Renewed (and, by a standby, looked at) this often: three chances per lease. */
export const DEFAULT_RENEW_EVERY_MS = 1_000;

/** What the leader key holds: who coordinates, and where its dashboard is. */
export interface LeaseHolder {
  readonly holder: string;
  readonly url?: string;
  readonly since: number;
}

export interface CoordinatorLeaseOptions {
  readonly bucket: KV;
  /** This process, e.g. `host:pid:random`: unique per process. */
  readonly holder: string;
  readonly leaseMs?: number;
  readonly renewEveryMs?: number;
  readonly log?: (line: string) => void;
}

/**
 * Leadership among a run's coordinators, held by a lease in a JetStream key-value bucket. Whoever
 * writes the leader key first coordinates; it renews the key every second with a compare-and-set on
 * its last revision. A standby watches the key's revision by its own clock (no clocks compared across
 * machines): once it has not moved for `leaseMs`, the standby takes the key with a compare-and-set on
 * that revision, so of several standbys exactly one wins. A holder whose renewal finds another
 * revision has lost the lease and must stop (`onLost`): it may have been paused, not dead.
 *
 * A holder cut off from NATS does not stop on its own: everything it does (shards, gateways, this
 * key) goes through NATS, so it can change nothing meanwhile, and its next renewal says whether a
 * standby took over.
 */
export class CoordinatorLease {
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;
  private readonly log: (line: string) => void;
  private revision: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lost: ((reason: string) => void) | null = null;
  private stopped = false;
  private url: string | undefined;
  /** The lease's term: the key's revision when this process took it, unique for the bucket's life. */
  term = 0;

  constructor(private readonly options: CoordinatorLeaseOptions) {
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.renewEveryMs = options.renewEveryMs ?? DEFAULT_RENEW_EVERY_MS;
    this.log = options.log ?? (() => undefined);
  }

  /** Whether this process holds the lease now. */
  get held(): boolean {
    return this.revision !== null;
  }

  /**
   * Resolves once this process holds the lease: at once when nobody does, otherwise when the
   * holder's lease runs out (`onWaiting` hears who holds it, once). Rejects when `stop()` is called.
   */
  async acquire(onWaiting?: (holder: LeaseHolder) => void): Promise<void> {
    const since = Date.now();
    const value = (): Uint8Array =>
      encode({ holder: this.options.holder, url: this.url, since } satisfies LeaseHolder);
    let seen = null as { revision: number; since: number } | null;
    let told = false;
    while (!this.stopped) {
      const entry = await this.options.bucket.get(LEADER_KEY);
      try {
        if (entry === null || entry.operation !== 'PUT') {
          this.revision = await this.options.bucket.create(LEADER_KEY, value());
        } else if (seen?.revision === entry.revision && Date.now() - seen.since >= this.leaseMs) {
          this.revision = await this.options.bucket.update(LEADER_KEY, value(), entry.revision);
          this.log(`coordinator: ${holderOf(entry).holder} stopped renewing its lease; taking over`);
        }
      } catch {
        // Another process wrote the key first (a standby beside this one): keep watching.
        this.revision = null;
      }
      if (this.revision !== null) {
        this.term = this.revision;
        this.scheduleRenewal(value);
        return;
      }
      if (entry !== null && entry.operation === 'PUT') {
        if (seen?.revision !== entry.revision) seen = { revision: entry.revision, since: Date.now() };
        if (!told) onWaiting?.(holderOf(entry));
        told = true;
      }
      await sleep(Math.min(this.renewEveryMs, this.leaseMs / 3));
    }
    throw new Error('stopped before the coordinator lease was taken');
  }

  /** Where this coordinator's dashboard is, for whoever reads the lease (from the next renewal on). */
  advertise(url: string): void {
    this.url = url;
  }

  /** Called once if the lease is found taken by another process; the holder must stop coordinating. */
  onLost(listener: (reason: string) => void): void {
    this.lost = listener;
  }

  /**
   * Stops renewing and, when held, deletes the key, so that a standby takes over at once instead of
   * after `leaseMs` (a clean shutdown).
   */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const revision = this.revision;
    this.revision = null;
    if (revision === null) return;
    try {
      await this.options.bucket.delete(LEADER_KEY, { previousSeq: revision });
    } catch {
      // Taken over meanwhile, or NATS is gone: the lease runs out by itself.
    }
  }

  private scheduleRenewal(value: () => Uint8Array): void {
    this.timer = setTimeout(() => void this.renew(value), this.renewEveryMs);
  }

  private async renew(value: () => Uint8Array): Promise<void> {
    if (this.stopped || this.revision === null) return;
    try {
      this.revision = await this.options.bucket.update(LEADER_KEY, value(), this.revision);
    } catch (error) {
      const current = await this.options.bucket.get(LEADER_KEY).catch(() => undefined);
      if (current === undefined) {
        // NATS did not answer: say nothing yet; the next renewal decides.
      } else if (current?.operation === 'PUT' && holderOf(current).holder === this.options.holder) {
        // The update landed though its answer was lost.
        this.revision = current.revision;
      } else if (current === null || current.operation !== 'PUT' || current.revision !== this.revision) {
        const by = current && current.operation === 'PUT' ? holderOf(current).holder : 'nobody';
        this.revision = null;
        this.lost?.(`the coordinator lease is now held by ${by} (${(error as Error).message})`);
        return;
      }
    }
    this.scheduleRenewal(value);
  }
}

function holderOf(entry: KvEntry): LeaseHolder {
  try {
    return entry.json<LeaseHolder>();
  } catch {
    return { holder: '(unreadable)', since: 0 };
  }
}

function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
