import { ErrorCode } from './errors.js';
import type { Examples } from './examplesCodec.js';
import { examplesToTensors } from './examplesTensors.js';
import { HubRequestError, type HubClient } from './HubClient.js';
import type { BatchSource, InnerBatch } from './LocalTrainer.js';
import type { WorkUnit } from './protocol.js';
import { UnitPrefetcher, type LoadedUnit } from './UnitPrefetcher.js';

/**
 * The next work unit starts loading when this many batches of the current one are left: enough to hide
 * a lease round trip and a download, few enough that a stopping worker holds little it will not use.
 */
const LOAD_AHEAD_BATCHES = 2;

/** Answers to `unit:complete` meaning the lease had already ended (expired, or the connection dropped). */
const LEASE_GONE = new Set<string>([ErrorCode.UnknownUnit, 'UNREACHABLE']);

/** The examples a worker trains on next: its current unit, and how far into it it has come. */
export interface UnitPosition {
  readonly lease: WorkUnit;
  readonly data: Examples;
  /** Examples [0, cursor) of the unit are used up. */
  readonly cursor: number;
}

/**
 * The worker's leased units as one stream of examples: a finished unit is reported complete and the
 * next one taken (loaded ahead near the end by UnitPrefetcher, as the gradient loop always did), a unit
 * whose lease a reconnect ended is dropped. Local rounds draw their batches across unit boundaries from
 * here; a gradient step looks at `current()` and consumes what the hub accepted.
 */
export class UnitBatches implements BatchSource {
  private readonly prefetcher: UnitPrefetcher;
  private unit: LoadedUnit | null = null;
  private cursor = 0;
  /** Completions sent without waiting for their answer; the first real failure is thrown later. */
  private readonly completing = new Set<Promise<void>>();
  private failure: unknown = null;

  constructor(private readonly client: HubClient) {
    this.prefetcher = new UnitPrefetcher(client);
  }

  /** The unit being trained on, while it holds examples not yet used. */
  get unitId(): number | undefined {
    return this.unit?.lease.unitId;
  }

  /**
   * The unit to train on now, with examples left. `waitForCompletion`: a finished unit's completion is
   * awaited before the next unit is used (the gradient loop); otherwise it is sent and answered in
   * the background (local rounds, which must not idle on a round trip per unit).
   */
  async current(batchSize: number, waitForCompletion: boolean): Promise<UnitPosition> {
    if (this.failure !== null) throw this.failure;
    const { client } = this;
    // A reconnect ends the hub's side of the lease: the unit may already be someone else's.
    if (
      this.unit !== null &&
      (this.cursor >= this.unit.lease.count || this.unit.session !== client.sessionId)
    ) {
      if (this.unit.session === client.sessionId) {
        const done = this.complete(this.unit.lease);
        if (waitForCompletion) await done;
        else this.track(done);
      }
      this.unit = null;
    }
    if (this.unit === null) {
      this.unit = await this.prefetcher.take();
      this.cursor = 0;
    }
    if (this.unit.lease.count - this.cursor <= LOAD_AHEAD_BATCHES * batchSize) this.prefetcher.loadAhead();
    return { lease: this.unit.lease, data: this.unit.data, cursor: this.cursor };
  }

  /** Marks the next `count` examples of the current unit as used. */
  consume(count: number): void {
    this.cursor += count;
  }

  /** The next batch, up to the current unit's end (its last batch may be short). */
  async next(size: number): Promise<InnerBatch> {
    const { data, cursor, lease } = await this.current(size, false);
    const count = Math.min(size, lease.count - cursor);
    const { xs, ys } = examplesToTensors(data, cursor, count);
    this.consume(count);
    return { xs, ys, count, origin: [lease.unitId, cursor, count] };
  }

  /** Waits for the completions still in flight; throws the first that failed. */
  async settle(): Promise<void> {
    await Promise.all(this.completing);
    if (this.failure !== null) throw this.failure;
  }

  private track(done: Promise<void>): void {
    const tracked = done.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    this.completing.add(tracked);
    void tracked.finally(() => this.completing.delete(tracked));
  }

  /**
   * Reports a finished unit. A lease that expired meanwhile, or that a lost connection ended, is no
   * error: the hub put the unit back in the pool, and training goes on with a new one.
   */
  private async complete(unit: WorkUnit): Promise<void> {
    try {
      await this.client.completeUnit(unit.unitId);
    } catch (error) {
      const leaseGone = error instanceof HubRequestError && LEASE_GONE.has(error.code);
      if (!leaseGone) throw error;
    }
  }
}
