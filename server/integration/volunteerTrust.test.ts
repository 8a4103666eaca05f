import { describe, expect, it } from 'vitest';
import { HubClient } from '../../shared/HubClient.js';
import { ADDRESS_FLOOR_TRUST, PROBATION_TRUST } from '../actors/VolunteerTrust.js';
import type { RunningHub } from '../startHub.js';
import { closedAfterEach } from '../testing/closedAfterEach.js';
import { startTestHub, testGradient } from '../testing/testHub.js';

/**
 * --trust follows the volunteer, not the connection, over real sockets: a poisoner that reconnects
 * (with the identity the hub issued, or without it from the same address) does not start afresh, and
 * a newcomer starts on probation while an honest volunteer keeps what it earned.
 */
const opened = closedAfterEach();
let hub: RunningHub;

async function start(): Promise<void> {
  hub = opened.hub = await startTestHub({ trust: true });
}

async function connect(identity?: string): Promise<HubClient> {
  const c = await HubClient.connect({ url: hub.url, backend: 'test', ackTimeoutMs: 20_000, identity });
  opened.clients.push(c);
  return c;
}

async function pushScaled(worker: HubClient, seed: number, scale: number): Promise<string | null> {
  const { versions } = await worker.pull();
  const gradient = testGradient(hub.hub.layout.totalLength, seed).map((v) => v * scale);
  return worker.push({ gradient, versions, examples: 64, loss: 1 }).then(
    () => null,
    (error: { code: string }) => error.code,
  );
}

/** Enough honest pushes for the screen to have a baseline of accepted norms. */
async function honestBaseline(worker: HubClient, pushes = 10): Promise<void> {
  for (let i = 0; i < pushes; i++) expect(await pushScaled(worker, i + 1, 0.01)).toBeNull();
}

function trustOf(worker: HubClient): number | null {
  const status = hub.hub.coordinator.status().workers.find((w) => w.id === worker.workerId);
  return status?.trust ?? null;
}

/** Pushes far out of line until the hub refuses the volunteer altogether; returns the codes heard. */
async function poisonUntilUntrusted(worker: HubClient): Promise<string[]> {
  const codes: string[] = [];
  for (let i = 0; i < 10 && codes.at(-1) !== 'UNTRUSTED'; i++) {
    codes.push((await pushScaled(worker, 100 + i, 10)) ?? 'ACCEPTED');
  }
  return codes;
}

describe('trust across reconnects (--trust)', () => {
  it('a newcomer starts on probation; an honest volunteer keeps its earned trust when it reconnects', async () => {
    await start();
    const honest = await connect();
    expect(trustOf(honest)).toBe(PROBATION_TRUST);
    await honestBaseline(honest);
    const earned = trustOf(honest)!;
    expect(earned).toBeGreaterThan(PROBATION_TRUST);
    const name = hub.hub.coordinator.status().workers[0].volunteer;
    honest.close();

    const again = await connect(honest.identity);
    expect(again.workerId).not.toBe(honest.workerId);
    expect(trustOf(again)).toBeCloseTo(earned, 10);
    expect(hub.hub.coordinator.status().workers[0].volunteer).toBe(name);
    // The public name is no copy of the secret token.
    expect(name).not.toContain(honest.identity);
  });

  it('a poisoner that reconnects with its identity is refused UNTRUSTED from its first push', async () => {
    await start();
    await honestBaseline(await connect());
    const poisoner = await connect();
    expect(await poisonUntilUntrusted(poisoner)).toContain('UNTRUSTED');
    poisoner.close();

    const back = await connect(poisoner.identity);
    expect(await pushScaled(back, 200, 10)).toBe('UNTRUSTED');
    // Even a gradient that looks honest: the volunteer is refused, not the gradient.
    expect(await pushScaled(back, 201, 0.01)).toBe('UNTRUSTED');
  });

  it('a poisoner that drops its identity starts at its address floor and is refused after one bad push', async () => {
    await start();
    await honestBaseline(await connect());
    const poisoner = await connect();
    await poisonUntilUntrusted(poisoner);
    poisoner.close();

    // Every test client comes from 127.0.0.1: the address the poisoner's record is kept against.
    const fresh = await connect();
    expect(fresh.identity).not.toBe(poisoner.identity);
    expect(trustOf(fresh)).toBe(ADDRESS_FLOOR_TRUST);
    expect(await pushScaled(fresh, 300, 10)).toBe('OUTLIER');
    expect(await pushScaled(fresh, 301, 10)).toBe('UNTRUSTED');
  });

  it('an identity the hub never issued is a newcomer on probation', async () => {
    await start();
    const forged = await connect('made-up-identity-0123456789');
    expect(trustOf(forged)).toBe(PROBATION_TRUST);
  });
});
