import { HubError, ErrorCode } from '../../shared/errors.js';
import { mulberry32Step } from '../../shared/random.js';

/** A range of training examples handed to one worker: [start, start + count). */
export interface LeasedUnit {
  readonly unitId: number;
  readonly start: number;
  readonly count: number;
  readonly epoch: number;
}

export interface UnitPoolOptions {
  readonly totalExamples: number;
  readonly unitSize: number;
  /** Seeds the per-epoch shuffle of unit order, so runs are repeatable. */
  readonly seed?: number;
  /** Carry on from a checkpoint's `state()`. */
  readonly restore?: UnitPoolState;
}

/** Everything a checkpoint needs to carry the data cursor on; leased units count as not done. */
export interface UnitPoolState {
  readonly completed: number;
  readonly nextEpoch: number;
  /** Units not completed in the epochs handed out so far, in the order they will be leased. */
  readonly pending: readonly LeasedUnit[];
  readonly randomState: number;
}

/**
 * Hands the training set out as work units. Each epoch's units are shuffled into the pool; a worker
 * leases one, trains on it and completes it. Units of a worker that leaves go back to the front of
 * the pool, so no example of an epoch is skipped. Epochs are counted from completed units.
 */
export class UnitPool {
  readonly unitsPerEpoch: number;
  private readonly options: UnitPoolOptions;
  private readonly pool: LeasedUnit[] = [];
  /** unitId -> lease; `renewedAt` is the holder's last sign of life (ms, the caller's clock). */
  private readonly leases = new Map<number, { unit: LeasedUnit; holder: string; renewedAt: number }>();
  private nextEpoch = 0;
  private completed = 0;
  private randomState: number;

  constructor(options: UnitPoolOptions) {
    if (!(options.unitSize >= 1) || !(options.totalExamples >= 1)) throw new Error('empty unit pool');
    this.options = options;
    this.unitsPerEpoch = Math.ceil(options.totalExamples / options.unitSize);
    this.randomState = (options.seed ?? 1) >>> 0;
    if (options.restore) {
      this.completed = options.restore.completed;
      this.nextEpoch = options.restore.nextEpoch;
      this.pool.push(...options.restore.pending);
      this.randomState = options.restore.randomState;
    }
  }

  /** The data cursor, for a checkpoint: units out on lease go back to the front of the pool. */
  state(): UnitPoolState {
    const leased = [...this.leases.values()].map((lease) => lease.unit);
    return {
      completed: this.completed,
      nextEpoch: this.nextEpoch,
      pending: [...leased, ...this.pool],
      randomState: this.randomState,
    };
  }

  /** Epochs completed, fractional: 1.5 means one and a half passes over the training set. */
  get epochs(): number {
    return this.completed / this.unitsPerEpoch;
  }

  get completedUnits(): number {
    return this.completed;
  }

  get leasedCount(): number {
    return this.leases.size;
  }

  get pooledCount(): number {
    return this.pool.length;
  }

  lease(holder: string, now = 0): LeasedUnit {
    if (this.pool.length === 0) this.refill();
    const unit = this.pool.shift() as LeasedUnit;
    this.leases.set(unit.unitId, { unit, holder, renewedAt: now });
    return unit;
  }

  /** The holder is alive: its leases run on from `now`. */
  renew(holder: string, now: number): void {
    for (const lease of this.leases.values()) if (lease.holder === holder) lease.renewedAt = now;
  }

  /**
   * Returns to the front of the pool every unit whose holder has not been heard of since `cutoff`
   * (a tab that was paused or put to sleep without closing its connection); the expired units.
   */
  expire(cutoff: number): LeasedUnit[] {
    const expired: LeasedUnit[] = [];
    for (const [unitId, lease] of this.leases) {
      if (lease.renewedAt < cutoff) {
        this.leases.delete(unitId);
        expired.push(lease.unit);
      }
    }
    this.pool.unshift(...expired);
    return expired;
  }

  complete(holder: string, unitId: number): void {
    const lease = this.leases.get(unitId);
    if (!lease || lease.holder !== holder) {
      throw new HubError(ErrorCode.UnknownUnit, `work unit ${unitId} is not leased to this worker`);
    }
    this.leases.delete(unitId);
    this.completed++;
  }

  /** Returns every unit leased to `holder` to the front of the pool; how many were returned. */
  release(holder: string): number {
    const returned: LeasedUnit[] = [];
    for (const [unitId, lease] of this.leases) {
      if (lease.holder === holder) {
        this.leases.delete(unitId);
        returned.push(lease.unit);
      }
    }
    this.pool.unshift(...returned);
    return returned.length;
  }

  /** The training examples of a unit id, leased or not (ids count on across epochs): [start, start + count). */
  examplesOf(unitId: number): { readonly start: number; readonly count: number } {
    const { totalExamples, unitSize } = this.options;
    const start = (unitId % this.unitsPerEpoch) * unitSize;
    return { start, count: Math.min(unitSize, totalExamples - start) };
  }

  private refill(): void {
    const epoch = this.nextEpoch++;
    const units: LeasedUnit[] = [];
    for (let i = 0; i < this.unitsPerEpoch; i++) {
      const unitId = epoch * this.unitsPerEpoch + i;
      units.push({ unitId, ...this.examplesOf(unitId), epoch });
    }
    // Fisher-Yates with the seeded generator.
    for (let i = units.length - 1; i > 0; i--) {
      const step = mulberry32Step(this.randomState);
      this.randomState = step.state;
      const j = Math.floor(step.value * (i + 1));
      [units[i], units[j]] = [units[j], units[i]];
    }
    this.pool.push(...units);
  }
}
