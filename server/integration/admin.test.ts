import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import type { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';
import { initNodeTf } from '../tf/initNodeTf.js';

/**
 * One hub for the refusals and the mode test: a refused action changes nothing (each refusal test
 * checks so), so the mode test starts on a hub in the state of a new one (startTestHub's defaults:
 * async, adam at 0.001). The pause test's hub (sgd) is its own.
 */
let shared: RunningHub;
beforeAll(async () => {
  shared = await startTestHub();
});
afterAll(() => shared?.close());

let hub: RunningHub | undefined;
let client: HubClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  if (hub !== shared) await hub?.close();
  hub = undefined;
});

function post(url: string, token: string | null, body?: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

it.each([
  ['pause', undefined],
  ['resume', undefined],
  ['learning-rate', { learningRate: 0.5 }],
  ['checkpoint', undefined],
  ['mode', { mode: 'sync' }],
  ['reset', undefined],
])('without the admin token, %s is refused and changes nothing', async (action, body) => {
  hub = shared;
  const before = await hub.hub.status();
  for (const token of [null, 'wrong-token', `${hub.adminToken}x`]) {
    const response = await post(`${hub.url}/api/admin/${action}`, token, body);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'ADMIN_REQUIRED' });
  }
  const after = await hub.hub.status();
  expect(after).toMatchObject({
    paused: false,
    learningRate: before.learningRate,
    mode: before.mode,
    globalStep: before.globalStep,
    shards: before.shards,
  });
});

it('with the token: pause holds the workers and the weights, resume lets them on, the rate changes', async () => {
  await initNodeTf('wasm');
  hub = await startTestHub({ optimizer: 'sgd', learningRate: 0.01 });
  client = await connectClient(hub, 'wasm');
  const worker = new GradientWorker({ client });
  const running = worker.run();
  await expect.poll(async () => (await hub!.hub.status()).globalStep, { timeout: 10_000 }).toBeGreaterThan(3);

  expect((await post(`${hub.url}/api/admin/pause`, hub.adminToken)).status).toBe(200);
  const paused = await hub.hub.status();
  expect(paused.paused).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const stillPaused = await hub.hub.status();
  // At most the one gradient in flight when the pause came.
  expect(stillPaused.globalStep - paused.globalStep).toBeLessThanOrEqual(1);
  expect(stillPaused.refusals.PAUSED).toBeGreaterThan(0);

  expect((await post(`${hub.url}/api/admin/resume`, hub.adminToken)).status).toBe(200);
  // Paused workers ask again every 2 s.
  await expect
    .poll(async () => (await hub!.hub.status()).globalStep, { timeout: 10_000 })
    .toBeGreaterThan(stillPaused.globalStep + 3);
  worker.stop();
  await running;

  // The new rate is what the shards use: a known gradient moves the weights by exactly rate x g.
  const rate = await post(`${hub.url}/api/admin/learning-rate`, hub.adminToken, { learningRate: 0.5 });
  expect(await rate.json()).toMatchObject({ ok: true, learningRate: 0.5 });
  expect((await hub.hub.status()).learningRate).toBe(0.5);
  const before = await hub.hub.weights();
  const pulled = await client.pull();
  const g = testGradient(before.length, 3);
  await client.push({ gradient: g, versions: pulled.versions, examples: 1, loss: 1 });
  const after = await hub.hub.weights();
  after.forEach((w, i) => {
    if (w !== Math.fround(before[i] - Math.fround(0.5 * g[i])))
      expect.fail(`float ${i} not moved by 0.5 x g`);
  });
  const bad = await post(`${hub.url}/api/admin/learning-rate`, hub.adminToken, { learningRate: -1 });
  expect(bad.status).toBe(400);
  // A hub without checkpoints says so.
  expect((await post(`${hub.url}/api/admin/checkpoint`, hub.adminToken)).status).toBe(409);
});

it('with the token: the mode switches both ways under a training worker, and reset starts the run over', async () => {
  await initNodeTf('wasm');
  hub = shared;
  expect(hub.hub.options).toMatchObject({ mode: 'async', optimizer: 'adam', learningRate: 0.001 });
  client = await connectClient(hub, 'wasm');
  const worker = new GradientWorker({ client });
  const running = worker.run();
  const stepsAbove = (step: number) =>
    expect.poll(async () => (await hub!.hub.status()).globalStep, { timeout: 15_000 }).toBeGreaterThan(step);
  await stepsAbove(3);

  const toSync = await post(`${hub.url}/api/admin/mode`, hub.adminToken, { mode: 'sync' });
  expect(await toSync.json()).toMatchObject({ ok: true, mode: 'sync' });
  const syncAt = await hub.hub.status();
  expect(syncAt.mode).toBe('sync');
  // The same worker trains on in rounds: the round counter moves.
  await stepsAbove(syncAt.globalStep + 3);
  expect((await hub.hub.status()).round).not.toBeNull();

  expect((await post(`${hub.url}/api/admin/mode`, hub.adminToken, { mode: 'async' })).status).toBe(200);
  const asyncAt = await hub.hub.status();
  expect(asyncAt).toMatchObject({ mode: 'async' });
  await stepsAbove(asyncAt.globalStep + 3);
  expect((await hub.hub.status()).round).toBeNull();

  const trained = await hub.hub.status();
  expect((await post(`${hub.url}/api/admin/reset`, hub.adminToken)).status).toBe(200);
  const reset = await hub.hub.status();
  expect(reset.globalStep).toBeLessThanOrEqual(1);
  expect(reset.examplesSeen).toBeLessThanOrEqual(hub.hub.options.batchSize);
  reset.shards.forEach((shard, i) => {
    expect(shard.checksum).not.toBe(trained.shards[i].checksum);
    expect(shard.version).toBeGreaterThan(trained.shards[i].version);
  });
  // Training goes on from the fresh weights.
  await stepsAbove(3);
  worker.stop();
  await running;

  const bad = await post(`${hub.url}/api/admin/mode`, hub.adminToken, { mode: 'fast' });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ code: 'INVALID_MESSAGE' });
});
