import { afterEach, describe, expect, it } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { checksums, connectClient, startTestHub, testGradient } from '../testing/testHub.js';

/**
 * Pushes that pass every schema and shape check and lie about themselves, over real sockets: each is
 * refused by name, no shard's weights move, and the liar's honest next push is taken as usual.
 */
let hub: RunningHub;
let clients: HubClient[] = [];

afterEach(async () => {
  clients.forEach((c) => c.close());
  clients = [];
  await hub?.close();
});

async function client(): Promise<HubClient> {
  const c = await connectClient(hub);
  clients.push(c);
  return c;
}

function gradient(seed = 1): Float32Array {
  return testGradient(hub.hub.layout.totalLength, seed).map((v) => v * 0.01);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, 'the lie was accepted').not.toBeNull();
  return (error as { code: string }).code;
}

describe('versions from the future', () => {
  it('a push claiming versions the hub never served is refused FUTURE_VERSION, even with --max-staleness', async () => {
    hub = await startTestHub({ shards: 2, maxStaleness: 4 });
    const worker = await client();
    const pulled = await worker.pull();
    // Four honest updates, so that an honest old gradient would already be at the staleness limit.
    for (let i = 0; i < 5; i++) {
      const fresh = await worker.pull();
      await worker.push({ gradient: gradient(i + 2), versions: fresh.versions, examples: 64, loss: 1 });
    }
    const before = await checksums(hub);
    const lie = worker.push({ gradient: gradient(), versions: [1e9, 1e9], examples: 64, loss: 1 });
    expect(await refusal(lie)).toBe('FUTURE_VERSION');
    // One shard's claim in the future is enough.
    const current = (await worker.pull()).versions;
    const halfLie = worker.push({
      gradient: gradient(),
      versions: [current[0], current[1] + 1],
      examples: 64,
      loss: 1,
    });
    expect(await refusal(halfLie)).toBe('FUTURE_VERSION');
    expect(await checksums(hub)).toEqual(before);
    // The honest old gradient is still judged by its real staleness.
    const old = worker.push({ gradient: gradient(), versions: pulled.versions, examples: 64, loss: 1 });
    expect(await refusal(old)).toBe('TOO_STALE');
    expect(hub.hub.coordinator.status().refusals).toMatchObject({ FUTURE_VERSION: 2 });
  });

  it('after a reset, a gradient from before it that claims a future version is refused, not applied', async () => {
    hub = await startTestHub({ shards: 2 });
    const worker = await client();
    await worker.pull();
    const reset = await fetch(`${hub.url}/api/admin/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(reset.status).toBe(200);
    const before = await checksums(hub);
    const versions = (await worker.pull()).versions.map((v) => v + 1_000);
    const lie = worker.push({ gradient: gradient(), versions, examples: 64, loss: 1 });
    expect(await refusal(lie)).toBe('FUTURE_VERSION');
    expect(await checksums(hub)).toEqual(before);
  });
});

describe('inflated example counts', () => {
  it('async: a gradient claiming 1,000,000 examples against batch 64 is refused TOO_MANY_EXAMPLES', async () => {
    hub = await startTestHub({ shards: 2, batchSize: 64 });
    const worker = await client();
    const pulled = await worker.pull();
    const before = await checksums(hub);
    for (const examples of [1_000_000, 65]) {
      const lie = worker.push({ gradient: gradient(), versions: pulled.versions, examples, loss: 1 });
      expect(await refusal(lie)).toBe('TOO_MANY_EXAMPLES');
    }
    expect(await checksums(hub)).toEqual(before);
    expect(hub.hub.coordinator.status().examplesSeen).toBe(0);
    const honest = await worker.push({
      gradient: gradient(),
      versions: pulled.versions,
      examples: 64,
      loss: 1,
    });
    expect(honest.globalStep).toBe(1);
  });

  it('sync: the liar cannot outweigh an honest gradient in the round mean; its round closes with the honest one', async () => {
    hub = await startTestHub({ mode: 'sync', shards: 2, batchSize: 64, roundTimeoutMs: 5_000 });
    const honest = await client();
    const liar = await client();
    const [honestPull, liarPull] = await Promise.all([honest.pull(), liar.pull()]);
    expect(liarPull.round).toBe(honestPull.round);
    const lie = liar.push({
      gradient: gradient(7),
      versions: liarPull.versions,
      round: liarPull.round,
      examples: 1_000_000,
      loss: 1,
    });
    expect(await refusal(lie)).toBe('TOO_MANY_EXAMPLES');
    // The round stopped waiting for the liar: the honest push alone closes it, at once.
    const started = Date.now();
    const accepted = await honest.push({
      gradient: gradient(3),
      versions: honestPull.versions,
      round: honestPull.round,
      examples: 64,
      loss: 1,
    });
    expect(accepted.globalStep).toBe(1);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(hub.hub.coordinator.status().examplesSeen).toBe(64);
  });

  it('local: more inner steps than the plan, or more examples than steps x batch, is refused by name', async () => {
    hub = await startTestHub({
      mode: 'local',
      shards: 2,
      batchSize: 16,
      localSteps: 5,
      compressChanges: 'none',
    });
    const worker = await client();
    const pulled = await worker.pull();
    expect(pulled.local?.steps).toBe(5);
    const before = await checksums(hub);
    const push = (localSteps: number, examples: number) =>
      worker.push({
        gradient: gradient(),
        versions: pulled.versions,
        round: pulled.round,
        localSteps,
        examples,
        loss: 1,
      });
    expect(await refusal(push(6, 16))).toBe('TOO_MANY_EXAMPLES');
    expect(await refusal(push(5, 81))).toBe('TOO_MANY_EXAMPLES');
    expect(await checksums(hub)).toEqual(before);
    // The worker is not thrown out of the round for an honest retry... it was let off this round,
    // so it takes part again from the next one: its next pull opens a round it belongs to.
    const next = await worker.pull();
    const accepted = await worker.push({
      gradient: gradient(),
      versions: next.versions,
      round: next.round,
      localSteps: 5,
      examples: 80,
      loss: 1,
    });
    expect(accepted.globalStep).toBe(1);
  });
});
