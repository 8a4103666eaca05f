import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { openCoordinatorBucket } from './coordinatorBucket.js';
import { CoordinatorLease, type LeaseHolder } from './CoordinatorLease.js';
import { startNatsServer, type RunningNatsServer } from './natsServer.js';

/** Against a real nats-server with JetStream: the lease the run's coordinators hold in turn. */

const opened: { nats: RunningNatsServer[]; connections: NatsConnection[]; leases: CoordinatorLease[] } = {
  nats: [],
  connections: [],
  leases: [],
};

afterEach(async () => {
  for (const lease of opened.leases.splice(0)) await lease.release();
  for (const connection of opened.connections.splice(0)) if (!connection.isClosed()) await connection.close();
  for (const nats of opened.nats.splice(0)) await nats.close();
});

async function leaseOn(
  url: string,
  holder: string,
  timing: { leaseMs?: number; renewEveryMs?: number } = {},
): Promise<{ lease: CoordinatorLease; connection: NatsConnection }> {
  const connection = await connect({ servers: url });
  opened.connections.push(connection);
  const bucket = await openCoordinatorBucket(connection, 'lease-test');
  expect(bucket).not.toBeNull();
  const lease = new CoordinatorLease({ bucket: bucket!, holder, ...timing });
  opened.leases.push(lease);
  return { lease, connection };
}

describe('CoordinatorLease', () => {
  it('the first coordinator holds it; a standby takes over once the holder stops renewing, not before', async () => {
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const first = await leaseOn(nats.url, 'first', { leaseMs: 1_000, renewEveryMs: 250 });
    await first.lease.acquire();
    expect(first.lease.held).toBe(true);

    const standby = await leaseOn(nats.url, 'standby', { leaseMs: 1_000, renewEveryMs: 250 });
    const seen: LeaseHolder[] = [];
    let tookOverAt = 0;
    const taking = standby.lease.acquire((holder) => seen.push(holder)).then(() => (tookOverAt = Date.now()));
    // Renewed in time, the lease stays where it is.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(tookOverAt).toBe(0);
    expect(seen.map((h) => h.holder)).toEqual(['first']);

    // The holder dies (its connection goes, nothing is released): taken over after about a lease.
    const diedAt = Date.now();
    await first.connection.close();
    await taking;
    expect(standby.lease.held).toBe(true);
    // A lease after the holder's last renewal, which came up to one renewal (250 ms) before it died.
    expect(tookOverAt - diedAt).toBeGreaterThanOrEqual(1_000 - 250);
    expect(standby.lease.term).toBeGreaterThan(first.lease.term);
  });

  it('a holder that was only paused finds the lease taken at its next renewal, and is told to stop', async () => {
    const nats = await startNatsServer();
    opened.nats.push(nats);
    // Renews every 3 s, as a process paused for 3 s would: longer than the standby's 1 s lease.
    const paused = await leaseOn(nats.url, 'paused', { renewEveryMs: 3_000 });
    await paused.lease.acquire();
    const lost = new Promise<string>((resolve) => paused.lease.onLost(resolve));
    const standby = await leaseOn(nats.url, 'standby', { leaseMs: 1_000, renewEveryMs: 250 });
    await standby.lease.acquire();
    expect(await lost).toMatch(/the coordinator lease is now held by standby/);
    expect(paused.lease.held).toBe(false);
  });

  it('a clean release hands over at once; of two standbys exactly one takes it', async () => {
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const holder = await leaseOn(nats.url, 'holder');
    await holder.lease.acquire();
    const standbys = await Promise.all(
      ['a', 'b'].map((name) => leaseOn(nats.url, name, { renewEveryMs: 100 })),
    );
    let won = 0;
    const acquiring = standbys.map(({ lease }) => lease.acquire().then(() => won++));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const releasedAt = Date.now();
    await holder.lease.release();
    await Promise.race(acquiring);
    // Far sooner than the 3 s lease would have run out.
    expect(Date.now() - releasedAt).toBeLessThan(1_500);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(won).toBe(1);
    expect(standbys.filter(({ lease }) => lease.held)).toHaveLength(1);
  });
});
