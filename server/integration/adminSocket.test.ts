import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterEach, expect, it } from 'vitest';
import type { AdminAction, AdminActionReply } from '../../shared/adminActions.js';
import type { DashboardAuth, DashboardRole } from '../../shared/dashboardProtocol.js';
import type { HubClient } from '../../shared/HubClient.js';
import { DEFAULT_HUB_OPTIONS } from '../options.js';
import { startHub, type RunningHub } from '../startHub.js';
import { checksums, connectClient, startTestHub, TEST_LISTEN, testGradient } from '../testing/testHub.js';

// Acceptance 3 on the socket side: over the dashboard namespace, every action that changes the run
// is refused without the admin token and works with it.

let hub: RunningHub | undefined;
let client: HubClient | undefined;
let dir: string | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  client?.close();
  client = undefined;
  await hub?.close();
  hub = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const EVERY_ACTION: readonly AdminAction[] = [
  { type: 'pause' },
  { type: 'resume' },
  { type: 'learning-rate', learningRate: 0.5 },
  { type: 'mode', mode: 'sync' },
  { type: 'checkpoint' },
  { type: 'reset' },
];

/** A dashboard socket with the given handshake auth, connected, and the role the hub told it. */
async function dashboard(url: string, auth?: DashboardAuth | Record<string, unknown>) {
  const socket = io(`${url}/dashboard`, { transports: ['websocket'], reconnection: false, auth });
  sockets.push(socket);
  const role = await new Promise<DashboardRole>((resolve, reject) => {
    socket.once('dashboard:role', resolve);
    socket.once('connect_error', reject);
  });
  return {
    socket,
    role,
    act: (action: unknown) =>
      socket.timeout(10_000).emitWithAck('admin:action', action) as Promise<AdminActionReply>,
  };
}

/** Pushes one gradient, so that the run has a step to lose. */
async function trainOneStep(running: RunningHub): Promise<void> {
  client ??= await connectClient(running);
  const pulled = await client.pull();
  await client.push({
    gradient: testGradient(pulled.weights.length, 1).map((v) => v * 1e-3),
    versions: pulled.versions,
    examples: 10,
    loss: 1,
  });
}

it('without the admin token, or with a wrong one, every action is refused and nothing changes', async () => {
  hub = await startTestHub();
  await trainOneStep(hub);
  const before = await hub.hub.status();
  const offers: (DashboardAuth | Record<string, unknown> | undefined)[] = [
    undefined,
    {},
    { adminToken: 'wrong-token' },
    { adminToken: `${hub.adminToken}x` },
    { adminToken: hub.adminToken.slice(0, -1) },
    { adminToken: 42 },
  ];
  for (const auth of offers) {
    const viewer = await dashboard(hub.url, auth);
    expect(viewer.role.admin).toBe(false);
    // A token that was offered and is not the admin token is said to be refused.
    expect(viewer.role.tokenRefused ?? false).toBe(auth?.adminToken !== undefined);
    for (const action of EVERY_ACTION) {
      expect(await viewer.act(action), `${JSON.stringify(auth)}: ${action.type}`).toMatchObject({
        ok: false,
        error: { code: 'ADMIN_REQUIRED' },
      });
    }
    // Garbage from a viewer is refused the same way: the token comes before the schema.
    expect(await viewer.act({ type: 'self-destruct' })).toMatchObject({
      ok: false,
      error: { code: 'ADMIN_REQUIRED' },
    });
  }
  const after = await hub.hub.status();
  expect(after).toMatchObject({
    paused: false,
    learningRate: before.learningRate,
    mode: before.mode,
    globalStep: before.globalStep,
    shards: before.shards,
  });
  expect(await checksums(hub)).toEqual(before.shards.map((s) => s.checksum));
});

it('with the token: pause, resume, learning rate, mode and reset work; bad payloads are refused by name', async () => {
  hub = await startTestHub({ mode: 'async', optimizer: 'sgd', learningRate: 0.01 });
  const admin = await dashboard(hub.url, { adminToken: hub.adminToken });
  expect(admin.role).toEqual({ admin: true });

  expect(await admin.act({ type: 'pause' })).toEqual({ ok: true, paused: true });
  expect((await hub.hub.status()).paused).toBe(true);
  expect(await admin.act({ type: 'resume' })).toEqual({ ok: true, paused: false });
  expect((await hub.hub.status()).paused).toBe(false);

  expect(await admin.act({ type: 'learning-rate', learningRate: 0.5 })).toEqual({
    ok: true,
    learningRate: 0.5,
  });
  expect((await hub.hub.status()).learningRate).toBe(0.5);

  expect(await admin.act({ type: 'mode', mode: 'sync' })).toEqual({ ok: true, mode: 'sync' });
  expect((await hub.hub.status()).mode).toBe('sync');
  expect(await admin.act({ type: 'mode', mode: 'async' })).toEqual({ ok: true, mode: 'async' });
  expect((await hub.hub.status()).mode).toBe('async');

  // This hub keeps no checkpoints, and says so by name.
  expect(await admin.act({ type: 'checkpoint' })).toMatchObject({
    ok: false,
    error: { code: 'NO_CHECKPOINTS' },
  });

  // Bad payloads: refused, nothing changed. (socket.io sends NaN and Infinity as null.)
  const refusedPayloads: unknown[] = [
    { type: 'learning-rate', learningRate: 0 },
    { type: 'learning-rate', learningRate: -1 },
    { type: 'learning-rate', learningRate: Infinity },
    { type: 'learning-rate', learningRate: '0.1' },
    { type: 'learning-rate' },
    { type: 'mode', mode: 'fast' },
    { type: 'pause', extra: true },
    { type: 'self-destruct' },
    'pause',
    null,
  ];
  for (const payload of refusedPayloads) {
    const reply = await admin.act(payload);
    expect(reply, JSON.stringify(payload)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
  }
  expect(await hub.hub.status()).toMatchObject({ learningRate: 0.5, mode: 'async', paused: false });

  // Reset: a run with steps starts over from fresh weights.
  await trainOneStep(hub);
  await trainOneStep(hub);
  const trained = await hub.hub.status();
  expect(trained.globalStep).toBe(2);
  expect(await admin.act({ type: 'reset' })).toEqual({ ok: true, globalStep: 0 });
  const reset = await hub.hub.status();
  expect(reset.globalStep).toBe(0);
  expect(reset.examplesSeen).toBe(0);
  reset.shards.forEach((shard, i) => expect(shard.checksum).not.toBe(trained.shards[i].checksum));
});

it('with the token and checkpoints on, "checkpoint now" writes one and says which', async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-admin-socket-'));
  hub = await startHub(
    // knownAnswer off: its clients push by hand.
    {
      ...DEFAULT_HUB_OPTIONS,
      mode: 'async',
      evalIntervalMs: 600_000,
      evalExamples: 2_000,
      knownAnswer: false,
    },
    TEST_LISTEN,
    { dir, intervalMs: 600_000, keep: 3, fresh: true },
  );
  await trainOneStep(hub);
  const viewer = await dashboard(hub.url);
  expect(await viewer.act({ type: 'checkpoint' })).toMatchObject({ error: { code: 'ADMIN_REQUIRED' } });
  const admin = await dashboard(hub.url, { adminToken: hub.adminToken });
  const reply = await admin.act({ type: 'checkpoint' });
  expect(reply).toMatchObject({ ok: true, globalStep: 1 });
  if (!reply.ok || !('file' in reply)) throw new Error('expected a checkpoint file');
  expect((await stat(reply.file)).size).toBeGreaterThan(0);
});

it('an action without an ack is still refused out loud, and a viewer that keeps trying is disconnected', async () => {
  hub = await startTestHub();
  const viewer = await dashboard(hub.url, { adminToken: 'guess' });
  const errors: { code: string; event: string }[] = [];
  viewer.socket.on('hub:error', (error: { code: string; event: string }) => errors.push(error));
  viewer.socket.emit('admin:action', { type: 'pause' });
  await expect.poll(() => errors).toContainEqual(expect.objectContaining({ code: 'ADMIN_REQUIRED' }));

  const closed = new Promise<string>((resolve) => viewer.socket.once('disconnect', resolve));
  // Spaced out, so that it is the strikes that close the connection, not the rate limit.
  for (let i = 0; i < 12 && viewer.socket.connected; i++) {
    viewer.socket.emit('admin:action', { type: 'pause' });
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(await closed).toBe('io server disconnect');
  expect(errors.map((e) => e.code)).toContain('TOO_MANY_STRIKES');
  expect((await hub.hub.status()).paused).toBe(false);
});
