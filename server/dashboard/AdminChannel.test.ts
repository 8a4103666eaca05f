import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, expect, it } from 'vitest';
import type { AdminActionReply } from '../../shared/adminActions.js';
import type { DashboardRole } from '../../shared/dashboardProtocol.js';
import type { RunControl } from '../http/runControl.js';
import { attachAdminChannel } from './AdminChannel.js';

// The channel alone, on a bare socket.io server with a RunControl that fails: what the admin hears.

const TOKEN = 'test-admin-token';
let http: HttpServer | undefined;
let server: Server | undefined;
let socket: Socket | undefined;

afterEach(async () => {
  socket?.disconnect();
  await server?.close();
  http?.closeAllConnections();
});

async function channel(control: RunControl, logged: unknown[]): Promise<string> {
  http = createServer();
  server = new Server(http, { transports: ['websocket'] });
  attachAdminChannel(server, { token: TOKEN, control, logError: (_message, error) => logged.push(error) });
  await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

async function admin(
  url: string,
): Promise<{ role: DashboardRole; act: (action: unknown) => Promise<AdminActionReply> }> {
  socket = connect(`${url}/dashboard`, { transports: ['websocket'], auth: { adminToken: TOKEN } });
  const role = await new Promise<DashboardRole>((resolve) => socket!.once('dashboard:role', resolve));
  return { role, act: (action) => socket!.timeout(5_000).emitWithAck('admin:action', action) };
}

const SECRET = 'ENOSPC at /srv/secret/checkpoints/run-7.ckpt';

it('a failure inside the hub answers INTERNAL with no details; the details go to the log', async () => {
  const logged: unknown[] = [];
  const failing: RunControl = {
    pause: () => {
      throw new Error(SECRET);
    },
    resume: () => undefined,
    setLearningRate: () => Promise.reject(new Error(SECRET)),
    setMode: () => Promise.reject(new Error(SECRET)),
    reset: () => Promise.reject(new Error(SECRET)),
    checkpointNow: () => Promise.reject(new Error(SECRET)),
  };
  const { role, act } = await admin(await channel(failing, logged));
  expect(role).toEqual({ admin: true });
  const actions = [
    { type: 'pause' },
    { type: 'learning-rate', learningRate: 0.1 },
    { type: 'mode', mode: 'sync' },
    { type: 'reset' },
    { type: 'checkpoint' },
  ];
  for (const action of actions) {
    const reply = await act(action);
    expect(reply, action.type).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(JSON.stringify(reply)).not.toContain('secret');
  }
  expect(logged).toHaveLength(actions.length);
  expect(String(logged[0])).toContain(SECRET);
  // The connection and the channel go on.
  expect(await act({ type: 'resume' })).toEqual({ ok: true, paused: false });
});

it('a hub without checkpoints answers NO_CHECKPOINTS', async () => {
  const control: RunControl = {
    pause: () => undefined,
    resume: () => undefined,
    setLearningRate: async () => undefined,
    setMode: async () => undefined,
    reset: async () => undefined,
  };
  const { act } = await admin(await channel(control, []));
  expect(await act({ type: 'checkpoint' })).toEqual({
    ok: false,
    error: { code: 'NO_CHECKPOINTS', message: 'this hub runs without checkpoints' },
  });
});
