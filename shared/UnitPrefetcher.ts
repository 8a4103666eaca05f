import type { Examples } from './examplesCodec.js';
import type { HubClient } from './HubClient.js';
import type { WorkUnit } from './protocol.js';

/** A leased work unit with its examples, and the connection session that holds the lease. */
export interface LoadedUnit {
  readonly lease: WorkUnit;
  readonly data: Examples;
  readonly session: number;
}

/**
 * Work units one ahead: the next unit's lease and examples load while the current one trains its last
 * batches, so no step waits for a lease round trip and an HTTP download at a unit's end. The unit
 * loaded ahead holds its lease meanwhile, which is why it is asked for only near the end of the
 * current one: a worker that stops keeps at most one unit it will not train from others until its
 * lease times out. One whose lease a reconnect ended is dropped, as is one that failed to load, and a
 * fresh one is loaded in its place.
 */
export class UnitPrefetcher {
  private ahead: Promise<LoadedUnit> | null = null;

  constructor(private readonly client: HubClient) {}

  /** Starts loading the next unit, unless it is already loading. */
  loadAhead(): void {
    if (this.ahead !== null) return;
    this.ahead = this.load();
    // Awaited (or dropped) by the next take(); until then a failure must not count as unhandled.
    this.ahead.catch(() => undefined);
  }

  /** The next unit to train on: the one loaded ahead when it is still good, else a fresh one. */
  async take(): Promise<LoadedUnit> {
    const ahead = this.ahead;
    this.ahead = null;
    const unit = ahead ? await ahead.catch(() => null) : null;
    return unit !== null && unit.session === this.client.sessionId ? unit : this.load();
  }

  private async load(): Promise<LoadedUnit> {
    const session = this.client.sessionId;
    const lease = await this.client.leaseUnit();
    return { lease, data: await this.client.fetchExamples(lease), session };
  }
}
