import { describe, expect, it, vi } from 'vitest';
import { PushLedger } from './PushLedger.js';

/** Lets pending promise continuations run (the ledger forgets a refusal in one). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A promise settled from outside. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('PushLedger', () => {
  it('runs a new id once; a duplicate gets the same outcome without running again', async () => {
    const ledger = new PushLedger<number>();
    const apply = vi.fn(() => Promise.resolve(7));
    const first = ledger.once('p1', apply);
    expect(first.duplicate).toBe(false);
    const second = ledger.once('p1', apply);
    expect(second.duplicate).toBe(true);
    expect(second.outcome).toBe(first.outcome);
    await expect(second.outcome).resolves.toBe(7);
    expect(apply).toHaveBeenCalledTimes(1);
    expect(ledger.size).toBe(1);
  });

  it('a duplicate of a push still in flight waits for the same outcome', async () => {
    const ledger = new PushLedger<string>();
    const pending = deferred<string>();
    const first = ledger.once('p', () => pending.promise);
    const again = ledger.once('p', () => Promise.resolve('second apply'));
    expect(again).toEqual({ outcome: first.outcome, duplicate: true });
    pending.resolve('applied');
    await expect(again.outcome).resolves.toBe('applied');
  });

  it('ids are independent', async () => {
    const ledger = new PushLedger<string>();
    await expect(ledger.once('a', () => Promise.resolve('A')).outcome).resolves.toBe('A');
    await expect(ledger.once('b', () => Promise.resolve('B')).outcome).resolves.toBe('B');
    expect(ledger.once('a', () => Promise.resolve('?')).duplicate).toBe(true);
    expect(ledger.size).toBe(2);
  });

  it('a refused outcome is forgotten: the same id may be sent again and is run again', async () => {
    const ledger = new PushLedger<string>();
    const refused = ledger.once('p', () => Promise.reject(new Error('TOO_STALE')));
    await expect(refused.outcome).rejects.toThrow('TOO_STALE');
    await flush();
    expect(ledger.size).toBe(0);
    const apply = vi.fn(() => Promise.resolve('applied'));
    const resent = ledger.once('p', apply);
    expect(resent.duplicate).toBe(false);
    await expect(resent.outcome).resolves.toBe('applied');
    expect(apply).toHaveBeenCalledTimes(1);
    expect(ledger.once('p', apply).duplicate).toBe(true);
  });

  it('a duplicate sent before the refusal settles shares it (the first is still in flight)', async () => {
    const ledger = new PushLedger<string>();
    const pending = deferred<string>();
    const first = ledger.once('p', () => pending.promise);
    const again = ledger.once('p', () => Promise.resolve('x'));
    pending.reject(new Error('refused'));
    await expect(again.outcome).rejects.toThrow('refused');
    await expect(first.outcome).rejects.toThrow('refused');
    await flush();
    expect(ledger.once('p', () => Promise.resolve('x')).duplicate).toBe(false);
  });

  it('bounded: beyond its capacity the oldest id is evicted first', async () => {
    const ledger = new PushLedger<string>(3);
    for (const id of ['a', 'b', 'c', 'd']) ledger.once(id, () => Promise.resolve(id));
    expect(ledger.size).toBe(3);
    // b, c, d are remembered (asking does not insert or reorder); a was evicted and runs again.
    for (const id of ['b', 'c', 'd'])
      expect(ledger.once(id, () => Promise.resolve('?')).duplicate).toBe(true);
    const apply = vi.fn(() => Promise.resolve('a again'));
    expect(ledger.once('a', apply).duplicate).toBe(false);
    expect(apply).toHaveBeenCalledTimes(1);
    // Re-adding a evicted the oldest, b.
    expect(ledger.size).toBe(3);
    expect(ledger.once('b', () => Promise.resolve('b again')).duplicate).toBe(false);
    expect(ledger.once('d', () => Promise.resolve('?')).duplicate).toBe(true);
  });

  it('the default capacity holds ten thousand ids', () => {
    const ledger = new PushLedger<number>();
    for (let i = 0; i < 10_001; i++) ledger.once(`p${i}`, () => Promise.resolve(i));
    expect(ledger.size).toBe(10_000);
    expect(ledger.once('p0', () => Promise.resolve(-1)).duplicate).toBe(false);
    expect(ledger.once('p1', () => Promise.resolve(-1)).duplicate).toBe(false);
    expect(ledger.once('p10000', () => Promise.resolve(-1)).duplicate).toBe(true);
  });

  it('the refusal of an evicted id does not forget the newer outcome under that id', async () => {
    const ledger = new PushLedger<string>(1);
    const old = deferred<string>();
    const first = ledger.once('p', () => old.promise);
    ledger.once('q', () => Promise.resolve('q')); // evicts p while it is in flight
    const newer = ledger.once('p', () => Promise.resolve('newer'));
    expect(newer.duplicate).toBe(false);
    old.reject(new Error('refused late'));
    await expect(first.outcome).rejects.toThrow('refused late');
    await flush();
    expect(ledger.once('p', () => Promise.resolve('?'))).toEqual({ outcome: newer.outcome, duplicate: true });
  });
});
