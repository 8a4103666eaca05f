import { RateLimiterMemory } from 'rate-limiter-flexible';

export interface AddressBanOptions {
  /** Connections from one address closed for strikes within `windowSecs` that earn a ban; 0: never. */
  readonly strikeOutsToBan: number;
  readonly windowSecs: number;
  /** How long a banned address's new connections are refused. */
  readonly banSecs: number;
}

/**
 * Refuses new connections, for a while, from an address whose connections keep being closed for
 * strikes. Kept by rate-limiter-flexible (a counter per address that blocks once over its points).
 * Keyed on the address, so it takes several strike-outs: people behind one NAT share an address,
 * and one of them misbehaving once must not lock the others out.
 */
export class AddressBans {
  private readonly strikeOuts: RateLimiterMemory | null;

  constructor(options: AddressBanOptions) {
    this.strikeOuts =
      options.strikeOutsToBan > 0
        ? new RateLimiterMemory({
            keyPrefix: 'strike-outs',
            points: options.strikeOutsToBan - 1,
            duration: options.windowSecs,
            blockDuration: options.banSecs,
          })
        : null;
  }

  /** A connection from `address` was closed for strikes. */
  async struckOut(address: string): Promise<void> {
    await this.strikeOuts?.consume(address).catch(() => undefined);
  }

  /** Seconds until `address` may connect again; 0 when it may now. */
  async bannedForSecs(address: string): Promise<number> {
    if (!this.strikeOuts) return 0;
    const record = await this.strikeOuts.get(address);
    // Over its points, the key is blocked for `blockDuration`: msBeforeNext is the ban's time left.
    if (!record || record.consumedPoints <= this.strikeOuts.points) return 0;
    return Math.ceil(record.msBeforeNext / 1000);
  }
}
