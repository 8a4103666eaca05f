import { describe, expect, it } from 'vitest';
import { ErrorCode, HubError } from '../../shared/errors.js';
import { mulberry32 } from '../../shared/random.js';
import { UnitPool, type LeasedUnit } from './UnitPool.js';

function leaseN(pool: UnitPool, holder: string, n: number): LeasedUnit[] {
  return Array.from({ length: n }, () => pool.lease(holder));
}

/** The units' example ranges sorted by start; throws unless they tile [0, total) exactly. */
function expectTiles(units: readonly LeasedUnit[], total: number): void {
  const sorted = [...units].sort((a, b) => a.start - b.start);
  let at = 0;
  for (const unit of sorted) {
    expect(unit.start).toBe(at);
    expect(unit.count).toBeGreaterThan(0);
    at += unit.count;
  }
  expect(at).toBe(total);
}

function expectUnknownUnit(action: () => void): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(HubError);
  expect((caught as HubError).code).toBe(ErrorCode.UnknownUnit);
}

describe('UnitPool', () => {
  it('refuses an empty pool', () => {
    expect(() => new UnitPool({ totalExamples: 0, unitSize: 10 })).toThrow();
    expect(() => new UnitPool({ totalExamples: 10, unitSize: 0 })).toThrow();
    expect(() => new UnitPool({ totalExamples: NaN, unitSize: 10 })).toThrow();
  });

  it('leases every example of an epoch exactly once; the last unit is shorter', () => {
    const pool = new UnitPool({ totalExamples: 1003, unitSize: 100, seed: 5 });
    expect(pool.unitsPerEpoch).toBe(11);
    const epoch0 = leaseN(pool, 'a', 11);
    expect(new Set(epoch0.map((u) => u.unitId)).size).toBe(11);
    expect(epoch0.every((u) => u.epoch === 0)).toBe(true);
    expectTiles(epoch0, 1003);
    const last = epoch0.find((u) => u.start === 1000);
    expect(last?.count).toBe(3);
    expect(epoch0.filter((u) => u.count !== 100)).toHaveLength(1);

    // The next lease starts epoch 1 with fresh unit ids covering the same examples.
    const epoch1 = leaseN(pool, 'a', 11);
    expect(epoch1.every((u) => u.epoch === 1)).toBe(true);
    expectTiles(epoch1, 1003);
    const ids = new Set([...epoch0, ...epoch1].map((u) => u.unitId));
    expect(ids.size).toBe(22);
    // What a spot check reads a push's examples by: any epoch's unit id gives its leased range.
    for (const unit of [...epoch0, ...epoch1]) {
      expect(pool.examplesOf(unit.unitId)).toEqual({ start: unit.start, count: unit.count });
    }
  });

  it('one unit when unitSize >= totalExamples', () => {
    const pool = new UnitPool({ totalExamples: 7, unitSize: 640 });
    expect(pool.unitsPerEpoch).toBe(1);
    expect(pool.lease('a')).toMatchObject({ start: 0, count: 7, epoch: 0 });
    expect(pool.lease('a')).toMatchObject({ start: 0, count: 7, epoch: 1 });
  });

  it('the seeded order is repeatable and differs between seeds and between epochs', () => {
    const order = (seed: number | undefined) => {
      const pool = new UnitPool({ totalExamples: 200, unitSize: 10, seed });
      return leaseN(pool, 'a', 60).map((u) => u.start);
    };
    expect(order(42)).toEqual(order(42));
    expect(order(undefined)).toEqual(order(undefined));
    expect(order(42)).not.toEqual(order(43));
    const [e0, e1] = [order(42).slice(0, 20), order(42).slice(20, 40)];
    expect(e0).not.toEqual(e1);
    // Shuffled, not in example order.
    expect(e0).not.toEqual([...e0].sort((a, b) => a - b));
  });

  it('release returns a holder’s units to the front of the pool, and only that holder’s', () => {
    const pool = new UnitPool({ totalExamples: 100, unitSize: 10, seed: 3 });
    const a = leaseN(pool, 'a', 3);
    const b = leaseN(pool, 'b', 2);
    expect(pool.leasedCount).toBe(5);
    expect(pool.pooledCount).toBe(5);
    expect(pool.release('a')).toBe(3);
    expect(pool.release('a')).toBe(0);
    expect(pool.leasedCount).toBe(2);
    expect(pool.pooledCount).toBe(8);
    const next = leaseN(pool, 'c', 3);
    expect(next.map((u) => u.unitId).sort()).toEqual(a.map((u) => u.unitId).sort());
    // b still holds its units and can complete them; a cannot complete what it gave back.
    pool.complete('b', b[0].unitId);
    expectUnknownUnit(() => pool.complete('a', a[0].unitId));
    pool.complete('c', a[0].unitId);
    expect(pool.completedUnits).toBe(2);
  });

  it('released units of an old epoch come before the rest of a newer epoch', () => {
    const pool = new UnitPool({ totalExamples: 30, unitSize: 10, seed: 9 });
    const held = pool.lease('slow');
    leaseN(pool, 'fast', 2);
    const newer = pool.lease('fast');
    expect(newer.epoch).toBe(1);
    pool.release('slow');
    expect(pool.lease('fast')).toEqual(held);
  });

  it('complete by the wrong holder, an unknown id or a second time is UNKNOWN_UNIT and changes nothing', () => {
    const pool = new UnitPool({ totalExamples: 50, unitSize: 10 });
    const unit = pool.lease('a');
    expectUnknownUnit(() => pool.complete('b', unit.unitId));
    expectUnknownUnit(() => pool.complete('a', 9999));
    expectUnknownUnit(() => pool.complete('a', -1));
    expect(pool.leasedCount).toBe(1);
    expect(pool.completedUnits).toBe(0);
    pool.complete('a', unit.unitId);
    expectUnknownUnit(() => pool.complete('a', unit.unitId));
    expect(pool.completedUnits).toBe(1);
    expect(pool.leasedCount).toBe(0);
  });

  it('counts epochs from completed units, not leased ones', () => {
    const pool = new UnitPool({ totalExamples: 40, unitSize: 10 });
    const units = leaseN(pool, 'a', 6); // epoch 0 and half of epoch 1 leased
    expect(pool.epochs).toBe(0);
    units.slice(0, 2).forEach((u) => pool.complete('a', u.unitId));
    expect(pool.epochs).toBe(0.5);
    units.slice(2).forEach((u) => pool.complete('a', u.unitId));
    expect(pool.epochs).toBe(1.5);
    expect(pool.completedUnits).toBe(6);
  });

  it('expire returns the units renewed before the cutoff (not at it) to the front of the pool', () => {
    const pool = new UnitPool({ totalExamples: 100, unitSize: 10, seed: 4 });
    const a = pool.lease('a', 0);
    const b = pool.lease('b', 5);
    const c = pool.lease('c', 10);
    expect(pool.expire(5)).toEqual([a]);
    expect(pool.leasedCount).toBe(2);
    expect(pool.pooledCount).toBe(8);
    expect(pool.lease('d', 11)).toEqual(a);
    expect(pool.expire(11).map((u) => u.unitId)).toEqual([b.unitId, c.unitId]);
    // Given back in lease order, ahead of the rest of the epoch.
    expect([pool.lease('e', 12), pool.lease('e', 12)]).toEqual([b, c]);
    expect(pool.leasedCount + pool.pooledCount).toBe(10);
  });

  it('renew moves on every lease of that holder, and only that holder’s', () => {
    const pool = new UnitPool({ totalExamples: 100, unitSize: 10, seed: 4 });
    const a = leaseN(pool, 'a', 2);
    const b = pool.lease('b', 0);
    pool.renew('a', 50);
    pool.renew('nobody', 50);
    expect(pool.expire(50)).toEqual([b]);
    expect(
      pool
        .expire(51)
        .map((u) => u.unitId)
        .sort(),
    ).toEqual(a.map((u) => u.unitId).sort());
    expect(pool.leasedCount).toBe(0);
  });

  it('an expired unit is no longer its old holder’s: only its new holder completes it', () => {
    const pool = new UnitPool({ totalExamples: 30, unitSize: 10, seed: 2 });
    const unit = pool.lease('silent', 0);
    pool.expire(1);
    expectUnknownUnit(() => pool.complete('silent', unit.unitId));
    expect(pool.release('silent')).toBe(0);
    expect(pool.lease('other', 2)).toEqual(unit);
    pool.complete('other', unit.unitId);
    expect(pool.completedUnits).toBe(1);
  });

  it('expire with no stale lease changes nothing', () => {
    const pool = new UnitPool({ totalExamples: 30, unitSize: 10 });
    expect(pool.expire(100)).toEqual([]);
    const unit = pool.lease('a', 100);
    expect(pool.expire(100)).toEqual([]);
    expect(pool.leasedCount).toBe(1);
    expect(pool.pooledCount).toBe(2);
    pool.complete('a', unit.unitId);
  });

  it('fuzz: no unit of an epoch is ever lost or duplicated (seeded; prints the seed)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      try {
        fuzzOnce(seed);
      } catch (error) {
        throw new Error(`UnitPool fuzz failed with seed ${seed}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  });
});

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/**
 * Random lease / complete / release / renew / expire / bad-complete by several holders against a
 * model of where each unit must be: completed, leased (by whom, renewed when), or pooled. Plain
 * checks (not expect) to keep it fast.
 */
function fuzzOnce(seed: number): void {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const totalExamples = 1 + Math.floor(random() * 60);
  const unitSize = 1 + Math.floor(random() * 15);
  const pool = new UnitPool({ totalExamples, unitSize, seed });
  const perEpoch = pool.unitsPerEpoch;
  check(perEpoch === Math.ceil(totalExamples / unitSize), 'unitsPerEpoch');
  const holders = ['a', 'b', 'c', 'd'].slice(0, 1 + Math.floor(random() * 4));

  const leased = new Map<number, { unit: LeasedUnit; holder: string; renewedAt: number }>();
  /** The caller's clock (ms): leases renewed before `now - LEASE_MS` are expired when asked. */
  let now = 0;
  const LEASE_MS = 5;
  const completed = new Map<number, LeasedUnit>();
  const seen = new Map<number, LeasedUnit>();
  /** Units given back by release and not leased again yet: the pool's front. */
  const front = new Set<number>();
  let epochsStarted = 0;

  const pooledIds = (): number[] => {
    const ids: number[] = [];
    for (let id = 0; id < epochsStarted * perEpoch; id++)
      if (!leased.has(id) && !completed.has(id)) ids.push(id);
    return ids;
  };

  const checkInvariants = (where: string) => {
    check(pool.leasedCount === leased.size, `${where}: leasedCount ${pool.leasedCount} != ${leased.size}`);
    check(pool.completedUnits === completed.size, `${where}: completedUnits`);
    check(
      pool.pooledCount + pool.leasedCount + pool.completedUnits === epochsStarted * perEpoch,
      `${where}: pooled ${pool.pooledCount} + leased ${pool.leasedCount} + completed ${pool.completedUnits} != ${epochsStarted} epochs x ${perEpoch}`,
    );
    check(pool.epochs === completed.size / perEpoch, `${where}: epochs`);
  };

  const doLease = (holder: string) => {
    const unit = pool.lease(holder, now);
    const id = unit.unitId;
    check(!leased.has(id), `unit ${id} leased twice at once`);
    check(!completed.has(id), `completed unit ${id} leased again`);
    // Its identity is stable: the same id always means the same examples of the same epoch.
    const expectedEpoch = Math.floor(id / perEpoch);
    const expectedStart = (id % perEpoch) * unitSize;
    check(unit.epoch === expectedEpoch, `unit ${id} epoch ${unit.epoch}`);
    check(unit.start === expectedStart, `unit ${id} start ${unit.start}`);
    check(unit.count === Math.min(unitSize, totalExamples - expectedStart), `unit ${id} count ${unit.count}`);
    const before = seen.get(id);
    check(!before || JSON.stringify(before) === JSON.stringify(unit), `unit ${id} changed`);
    seen.set(id, unit);
    if (front.size > 0) {
      check(front.has(id), `unit ${id} leased before released units ${[...front]}`);
      front.delete(id);
    } else {
      const pooled = pooledIds();
      if (pooled.length === 0) {
        check(unit.epoch === epochsStarted, `new epoch ${unit.epoch}, expected ${epochsStarted}`);
        epochsStarted++;
      } else {
        check(pooled.includes(id), `unit ${id} was not in the pool`);
        const oldest = Math.min(...pooled.map((p) => Math.floor(p / perEpoch)));
        check(unit.epoch === oldest, `unit of epoch ${unit.epoch} leased while epoch ${oldest} is pooled`);
      }
    }
    leased.set(id, { unit, holder, renewedAt: now });
  };

  const steps = 50 + Math.floor(random() * 150);
  for (let step = 0; step < steps; step++) {
    const holder = pick(holders);
    now += Math.floor(random() * 3);
    const r = random();
    if (r < 0.4) {
      doLease(holder);
    } else if (r < 0.68) {
      const mine = [...leased.values()].filter((l) => l.holder === holder);
      if (mine.length === 0) continue;
      const { unit } = pick(mine);
      pool.complete(holder, unit.unitId);
      leased.delete(unit.unitId);
      completed.set(unit.unitId, unit);
    } else if (r < 0.76) {
      const mine = [...leased.values()].filter((l) => l.holder === holder).map((l) => l.unit.unitId);
      const returned = pool.release(holder);
      check(returned === mine.length, `release returned ${returned}, held ${mine.length}`);
      for (const id of mine) {
        leased.delete(id);
        front.add(id);
      }
    } else if (r < 0.82) {
      pool.renew(holder, now);
      for (const lease of leased.values()) if (lease.holder === holder) lease.renewedAt = now;
    } else if (r < 0.88) {
      const cutoff = now - LEASE_MS;
      const stale = [...leased.values()].filter((l) => l.renewedAt < cutoff).map((l) => l.unit.unitId);
      const expired = pool.expire(cutoff).map((u) => u.unitId);
      check(
        JSON.stringify([...expired].sort()) === JSON.stringify([...stale].sort()),
        `expire(${cutoff}) returned ${expired}, stale ${stale}`,
      );
      for (const id of stale) {
        leased.delete(id);
        front.add(id);
      }
    } else {
      // A completion that must be refused: someone else's unit, a completed one, or an unknown id.
      const others = [...leased.values()].filter((l) => l.holder !== holder);
      const candidates = [
        ...others.map((l) => l.unit.unitId),
        ...completed.keys(),
        epochsStarted * perEpoch + 5,
      ];
      const id = pick(candidates);
      let code: string | undefined;
      try {
        pool.complete(holder, id);
      } catch (error) {
        code = error instanceof HubError ? error.code : String(error);
      }
      check(code === ErrorCode.UnknownUnit, `complete(${holder}, ${id}) gave ${code ?? 'no error'}`);
    }
    checkInvariants(`step ${step}`);
  }

  // Drain: everyone leaves, one holder finishes every started epoch. Nothing may be missing.
  for (const holder of holders) pool.release(holder);
  for (const id of [...leased.keys()]) {
    leased.delete(id);
    front.add(id);
  }
  checkInvariants('after release');
  let guard = 0;
  while (pooledIds().length > 0) {
    check(guard++ < 10_000, 'drain does not end');
    doLease('drain');
    const [id] = [...leased.keys()];
    pool.complete('drain', id);
    completed.set(id, leased.get(id)!.unit);
    leased.delete(id);
    checkInvariants('drain');
  }
  check(pool.pooledCount === 0, `pool holds ${pool.pooledCount} units no model knows of`);
  for (let epoch = 0; epoch < epochsStarted; epoch++) {
    const units = [...completed.values()].filter((u) => u.epoch === epoch).sort((a, b) => a.start - b.start);
    check(units.length === perEpoch, `epoch ${epoch} completed ${units.length} of ${perEpoch} units`);
    let at = 0;
    for (const unit of units) {
      check(unit.start === at, `epoch ${epoch}: gap or overlap at example ${at}`);
      at += unit.count;
    }
    check(at === totalExamples, `epoch ${epoch} covers ${at} of ${totalExamples} examples`);
  }
  check(pool.epochs === epochsStarted, `epochs ${pool.epochs} != ${epochsStarted}`);
}
