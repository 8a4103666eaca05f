import { expect, it } from 'vitest';
import { closedAfterEach } from '../server/testing/closedAfterEach.js';
import { connectClient, startTestHub } from '../server/testing/testHub.js';
import { UnitPrefetcher } from './UnitPrefetcher.js';

const opened = closedAfterEach();

it('leases one unit ahead only when asked, hands it out next, and otherwise leases on demand', async () => {
  opened.hub = await startTestHub({ unitSize: 100 });
  const client = await connectClient(opened.hub);
  opened.clients.push(client);
  let leases = 0;
  const leaseUnit = client.leaseUnit.bind(client);
  client.leaseUnit = () => {
    leases++;
    return leaseUnit();
  };
  const prefetcher = new UnitPrefetcher(client);

  const first = await prefetcher.take();
  expect(first.data.count).toBe(100);
  expect(leases).toBe(1);

  prefetcher.loadAhead();
  prefetcher.loadAhead(); // already loading: no second lease
  expect(leases).toBe(2);
  const second = await prefetcher.take();
  expect(second.lease.unitId).not.toBe(first.lease.unitId);
  expect(second.data.count).toBe(100);
  expect(leases).toBe(2);

  // Nothing was loaded ahead this time: take() leases afresh.
  const third = await prefetcher.take();
  expect(leases).toBe(3);
  expect(new Set([first, second, third].map((u) => u.lease.unitId)).size).toBe(3);
});
