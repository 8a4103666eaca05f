import { io, type Socket } from 'socket.io-client';
import { afterEach, expect, it } from 'vitest';
import type { DashboardHistory, DashboardUpdate } from '../../shared/dashboardProtocol.js';
import { GradientWorker } from '../../shared/GradientWorker.js';
import type { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { connectClient, startTestHub } from '../testing/testHub.js';
import { initNodeTf } from '../tf/initNodeTf.js';

let hub: RunningHub | undefined;
let viewer: Socket | undefined;
let client: HubClient | undefined;

afterEach(async () => {
  viewer?.disconnect();
  client?.close();
  await hub?.close();
});

function view(url: string): {
  socket: Socket;
  history: Promise<DashboardHistory>;
  updates: DashboardUpdate[];
} {
  const socket = io(`${url}/dashboard`, { transports: ['websocket'] });
  const updates: DashboardUpdate[] = [];
  socket.on('dashboard:update', (u: DashboardUpdate) => updates.push(u));
  return { socket, history: new Promise((resolve) => socket.once('dashboard:history', resolve)), updates };
}

it('a viewer that connects mid-run gets the history from the start, then live updates', async () => {
  await initNodeTf('wasm');
  hub = await startTestHub({ dashboardIntervalMs: 100 });
  client = await connectClient(hub, 'wasm');
  await new GradientWorker({ client, maxSteps: 30 }).run();
  client.close();
  const running = hub;
  await expect.poll(async () => (await running.hub.status()).workers.length).toBe(0);
  await hub.hub.evaluateNow();
  await new Promise((r) => setTimeout(r, 300));

  const v = view(hub.url);
  viewer = v.socket;
  const history = await v.history;
  expect(history.run).toMatchObject({ model: 'cnn', params: 5994, mode: 'async', shardCount: 2 });
  expect(history.points.length).toBeGreaterThan(2);
  expect(history.points[0].globalStep).toBe(0);
  expect(history.points.at(-1)!.globalStep).toBe(30);
  expect(history.samples.count).toBe(32);
  expect(history.samples.pixels.byteLength).toBe(32 * 784);
  const latest = history.latest!;
  expect(latest.histograms!.map((h) => h.name)).toEqual(history.run.tensors);
  expect(latest.filters).toMatchObject({ width: 5, height: 5, count: 8 });
  expect(latest.predictions).toHaveLength(32);
  expect(latest.shards.map((s) => s.version)).toEqual([30, 30]);
  expect(latest.shards[0].bytesIn).toBe(30 * latest.shards[0].length * 4);
  expect(latest.staleness[0]).toBe(30);
  expect(latest.events.map((e) => e.kind)).toEqual(['join', 'leave']);

  expect(latest.workers).toHaveLength(0);

  await expect.poll(() => v.updates.length, { timeout: 5000 }).toBeGreaterThan(1);
  const update = v.updates.at(-1)!;
  expect(update.run.globalStep).toBe(30);
  expect(update.point.t).toBeGreaterThan(history.points.at(-1)!.t);
});
