import { afterEach, expect, it } from 'vitest';
import type { HubClient, PulledWeights } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';

/**
 * Local mode over real sockets: HubClients stand in for workers and push hand-made weight changes,
 * so that every number the shards apply can be computed here.
 */
let hub: RunningHub;
let clients: HubClient[] = [];

afterEach(async () => {
  clients.forEach((c) => c.close());
  clients = [];
  await hub?.close();
});

const OUTER_LR = 0.7;
const OUTER_MOMENTUM = 0.9;

async function localHub(overrides: Parameters<typeof startTestHub>[0] = {}): Promise<RunningHub> {
  return startTestHub({
    mode: 'local',
    shards: 3,
    localSteps: 5,
    outerOptimizer: 'nesterov',
    outerLr: OUTER_LR,
    outerMomentum: OUTER_MOMENTUM,
    // float32 changes: the arithmetic below is exact to float32 rounding.
    compressChanges: 'none',
    ...overrides,
  });
}

/** A small change, as a few inner steps would make. */
function change(length: number, seed: number): Float32Array {
  return testGradient(length, seed).map((v) => v * 0.01);
}

function pushChange(client: HubClient, pulled: PulledWeights, delta: Float32Array, examples: number) {
  return client.push({
    gradient: delta,
    versions: pulled.versions,
    round: pulled.round,
    localSteps: 5,
    examples,
    loss: 1,
  });
}

async function post(hubUrl: string, path: string, token: string, body?: object): Promise<Response> {
  return fetch(`${hubUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

it('two rounds apply Nesterov momentum to the example-weighted mean change, as computed by hand', async () => {
  hub = await localHub();
  const [a, b] = [await connectClient(hub), await connectClient(hub)];
  clients.push(a, b);
  const start = Float64Array.from(await hub.hub.weights());
  const n = start.length;
  const expected = Float64Array.from(start);
  const momentum = new Float64Array(n);
  for (let round = 0; round < 2; round++) {
    const [pa, pb] = await Promise.all([a.pull(), b.pull()]);
    expect(pa.round).toBe(pb.round);
    expect(pa.local).toEqual({ steps: 5 });
    const [da, db] = [change(n, 10 + round), change(n, 20 + round)];
    const replies = await Promise.all([pushChange(a, pa, da, 64), pushChange(b, pb, db, 192)]);
    replies.forEach((r) => expect(r.globalStep).toBe(round + 1));
    for (let i = 0; i < n; i++) {
      const mean = (64 * da[i] + 192 * db[i]) / 256;
      momentum[i] = OUTER_MOMENTUM * momentum[i] + mean;
      expected[i] -= OUTER_LR * (mean + OUTER_MOMENTUM * momentum[i]);
    }
  }
  const after = await hub.hub.weights();
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(after[i] - expected[i]));
  // float32 arithmetic on weights of magnitude < 1: a few ulps.
  expect(worst).toBeLessThan(1e-6);
  const status = await hub.hub.status();
  expect(status.globalStep).toBe(2);
  expect(status.examplesSeen).toBe(2 * 256);
});

it('average (FedAvg) moves the weights to the mean end point', async () => {
  hub = await localHub({ outerOptimizer: 'average' });
  const [a, b] = [await connectClient(hub), await connectClient(hub)];
  clients.push(a, b);
  const start = await hub.hub.weights();
  const [pa, pb] = await Promise.all([a.pull(), b.pull()]);
  const [da, db] = [change(start.length, 1), change(start.length, 2)];
  await Promise.all([pushChange(a, pa, da, 64), pushChange(b, pb, db, 64)]);
  const after = await hub.hub.weights();
  let worst = 0;
  for (let i = 0; i < start.length; i++) {
    const endA = start[i] - da[i];
    const endB = start[i] - db[i];
    worst = Math.max(worst, Math.abs(after[i] - (endA + endB) / 2));
  }
  expect(worst).toBeLessThan(1e-6);
});

it('a round with a straggler closes at its deadline; the late change is refused STALE_ROUND and changes nothing', async () => {
  hub = await localHub({ roundTimeoutMs: 800 });
  const [fast, slow] = [await connectClient(hub), await connectClient(hub)];
  clients.push(fast, slow);
  const [pf, ps] = await Promise.all([fast.pull(), slow.pull()]);
  const n = pf.weights.length;
  // The fast worker's ack comes when the round closes: at the deadline, without the straggler.
  const reply = await pushChange(fast, pf, change(n, 3), 64);
  expect(reply.globalStep).toBe(1);
  const status = await hub.hub.status();
  expect(status.examplesSeen).toBe(64);
  const weights = await hub.hub.weights();
  await expect(pushChange(slow, ps, change(n, 4), 64)).rejects.toMatchObject({ code: 'STALE_ROUND' });
  expect(await hub.hub.weights()).toEqual(weights);
  expect((await hub.hub.status()).globalStep).toBe(1);
});

it('--round-secs tells each worker how long it may train, and the deadline allows that plus --round-timeout', async () => {
  hub = await localHub({ roundSecs: 2, roundTimeoutMs: 500 });
  const client = await connectClient(hub);
  clients.push(client);
  const pulled = await client.pull();
  expect(pulled.local?.steps).toBe(5);
  expect(pulled.local?.trainMs).toBeGreaterThan(1000);
  expect(pulled.local?.trainMs).toBeLessThanOrEqual(2000);
  // Pushed after the training time but before its end + round timeout: accepted.
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const reply = await pushChange(client, pulled, change(pulled.weights.length, 5), 64);
  expect(reply.globalStep).toBe(1);
});

it('a gradient in local mode, and a weight change in async mode, are refused WRONG_UPDATE_KIND', async () => {
  hub = await localHub();
  const client = await connectClient(hub);
  clients.push(client);
  const pulled = await client.pull();
  const before = await hub.hub.weights();
  await expect(
    client.push({
      gradient: change(pulled.weights.length, 6),
      versions: pulled.versions,
      round: pulled.round,
      examples: 64,
      loss: 1,
    }),
  ).rejects.toMatchObject({ code: 'WRONG_UPDATE_KIND' });
  expect(await hub.hub.weights()).toEqual(before);

  expect((await post(hub.url, '/api/admin/mode', hub.adminToken, { mode: 'async' })).status).toBe(200);
  const asyncPull = await client.pull();
  expect(asyncPull.local).toBeUndefined();
  await expect(pushChange(client, asyncPull, change(pulled.weights.length, 7), 64)).rejects.toMatchObject({
    code: 'WRONG_UPDATE_KIND',
  });
  expect(await hub.hub.weights()).toEqual(before);
});

it('a change for a round from before a reset is refused by name and changes nothing', async () => {
  hub = await localHub();
  const client = await connectClient(hub);
  clients.push(client);
  const old = await client.pull();
  expect((await post(hub.url, '/api/admin/reset', hub.adminToken)).status).toBe(200);
  const fresh = await hub.hub.weights();
  // Computed on the weights of before the reset: refused by its versions.
  await expect(pushChange(client, old, change(fresh.length, 8), 64)).rejects.toMatchObject({
    code: 'TOO_STALE',
  });
  // Claiming the fresh weights' versions, but for the round the reset dropped: refused by its round.
  const next = await client.pull();
  expect(next.round).not.toBe(old.round);
  await expect(
    client.push({
      gradient: change(fresh.length, 8),
      versions: next.versions,
      round: old.round,
      localSteps: 5,
      examples: 64,
      loss: 1,
    }),
  ).rejects.toMatchObject({ code: 'STALE_ROUND' });
  expect(await hub.hub.weights()).toEqual(fresh);
  expect((await hub.hub.status()).globalStep).toBe(0);
});

it('the admin panel switches a run to local mode and back while a worker waits for its round', async () => {
  hub = await startTestHub({ mode: 'sync', shards: 2, compressChanges: 'none' });
  const client = await connectClient(hub);
  clients.push(client);
  const first = await client.pull();
  expect(first.local).toBeUndefined();
  expect((await post(hub.url, '/api/admin/mode', hub.adminToken, { mode: 'local' })).status).toBe(200);
  const pulled = await client.pull();
  expect(pulled.local).toBeDefined();
  expect(pulled.round).not.toBe(first.round);
  const reply = await pushChange(client, pulled, change(pulled.weights.length, 9), 64);
  expect(reply.globalStep).toBe(1);
  const status = await hub.hub.status();
  expect(status.mode).toBe('local');
});

it('buffered (--local-buffer 2): no waiting, every 2 changes applied, a stale one discounted by 1/sqrt(1 + s), a future one refused', async () => {
  hub = await localHub({ localBuffer: 2, outerOptimizer: 'average' });
  const [a, b] = [await connectClient(hub), await connectClient(hub)];
  clients.push(a, b);
  const start = await hub.hub.weights();
  const n = start.length;
  // a pulls buffer g; b pushes two changes on it at once, which fill the buffer and apply it.
  const stale = await a.pull();
  const pb = await b.pull();
  expect(pb.round).toBe(stale.round);
  const [d1, d2] = [change(n, 31), change(n, 32)];
  expect((await pushChange(b, pb, d1, 64)).globalStep).toBe(0);
  expect((await pushChange(b, await b.pull(), d2, 64)).globalStep).toBe(1);
  const mid = await hub.hub.weights();
  for (let i = 0; i < n; i++) expect(mid[i]).toBeCloseTo(start[i] - (d1[i] + d2[i]) / 2, 6);

  // a's change is one buffer stale: weight 64 / sqrt(2) beside b's fresh one.
  const fresh = await b.pull();
  expect(fresh.round).toBeGreaterThan(stale.round!);
  const [d3, d4] = [change(n, 33), change(n, 34)];
  const staleReply = await pushChange(a, stale, d3, 64);
  expect(staleReply.staleness).toBe(1);
  await pushChange(b, fresh, d4, 64);
  const after = await hub.hub.weights();
  const w3 = 64 / Math.SQRT2;
  for (let i = 0; i < n; i++) {
    expect(after[i]).toBeCloseTo(mid[i] - (w3 * d3[i] + 64 * d4[i]) / (w3 + 64), 6);
  }
  // A buffer the hub never handed out: refused by name.
  await expect(pushChange(a, { ...fresh, round: fresh.round! + 5 }, change(n, 35), 64)).rejects.toMatchObject(
    { code: 'STALE_ROUND' },
  );
  expect((await hub.hub.status()).globalStep).toBe(2);
});

it('without --round-secs a round waits past --round-timeout for its first change, then gives the others --round-timeout', async () => {
  hub = await localHub({ roundTimeoutMs: 500 });
  const [slow, slower] = [await connectClient(hub), await connectClient(hub)];
  clients.push(slow, slower);
  const [p1, p2] = await Promise.all([slow.pull(), slower.pull()]);
  // Local steps slower than the round timeout: the round is still open for the first change.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const first = pushChange(slow, p1, change(p1.weights.length, 41), 64);
  // The other has 500 ms from the first change on: in time at 300 ms.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = pushChange(slower, p2, change(p2.weights.length, 42), 64);
  const replies = await Promise.all([first, second]);
  replies.forEach((r) => expect(r.globalStep).toBe(1));
  expect((await hub.hub.status()).examplesSeen).toBe(128);
});

it('--trust screens weight changes too: one far above the recent accepted changes is refused OUTLIER, the round goes on', async () => {
  hub = await localHub({ trust: true });
  const [honest, liar] = [await connectClient(hub), await connectClient(hub)];
  clients.push(honest, liar);
  const n = (await hub.hub.weights()).length;
  // Eight accepted changes make the norm baseline (GradientScreen's minSamples), counted from the
  // fifth push of each volunteer on (the trust it needs to shape the baseline, GradientScreen.ts: BASELINE_TRUST).
  const rounds = 8;
  for (let round = 0; round < rounds; round++) {
    const [ph, pl] = await Promise.all([honest.pull(), liar.pull()]);
    await Promise.all([
      pushChange(honest, ph, change(n, 50 + round), 64),
      pushChange(liar, pl, change(n, 60 + round), 64),
    ]);
  }
  const [ph, pl] = await Promise.all([honest.pull(), liar.pull()]);
  const before = await hub.hub.weights();
  const poison = change(n, 70).map((v) => v * 100);
  await expect(pushChange(liar, pl, poison, 64)).rejects.toMatchObject({ code: 'OUTLIER' });
  // The round stops waiting for the refused worker: the honest change alone is applied.
  const honestChange = change(n, 71);
  expect((await pushChange(honest, ph, honestChange, 64)).globalStep).toBe(rounds + 1);
  const after = await hub.hub.weights();
  let moved = 0;
  for (let i = 0; i < n; i++) moved = Math.max(moved, Math.abs(after[i] - before[i]));
  // Nesterov with momentum moves by lr (Δ + m·m_t): on the order of the honest change, not the poison.
  expect(moved).toBeLessThan(0.01 * 20);
});
