import { createConnection } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  natsServerConfig,
  NatsServerMissingError,
  startNatsServer,
  type RunningNatsServer,
} from './natsServer.js';

const servers: RunningNatsServer[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  for (const server of servers.splice(0)) await server.close();
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startNatsServer', () => {
  it('serves on a free port of 127.0.0.1 with the raised max_payload, and close() kills it', async () => {
    const server = await startNatsServer();
    servers.push(server);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    const connection = await connect({ servers: server.url });
    expect(connection.info?.max_payload).toBe(DEFAULT_MAX_PAYLOAD_BYTES);
    await connection.close();
    await server.close();
    await server.close();
    expect(await accepts(server.port)).toBe(false);
  });

  it('runs two servers side by side', async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer({ maxPayloadBytes: 8 << 20 })]);
    servers.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(b.maxPayloadBytes).toBe(8 << 20);
  });

  it('fails with what to run when nats-server is missing', async () => {
    vi.stubEnv('NATS_SERVER_PATH', '/nonexistent/nats-server');
    const starting = startNatsServer();
    await expect(starting).rejects.toBeInstanceOf(NatsServerMissingError);
    await expect(starting).rejects.toThrow(/then run: node scripts\/find-nats-server\.mjs/);
  });

  it('refuses a max_payload above max_pending, as nats-server would', () => {
    expect(natsServerConfig(64 << 20, 256 << 20)).toBe('max_payload: 67108864\nmax_pending: 268435456\n');
    expect(() => natsServerConfig(128 << 20, 64 << 20)).toThrow(/cannot be above max_pending/);
  });
});
