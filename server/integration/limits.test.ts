import { io, type Socket } from 'socket.io-client';
import { afterEach, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { RunningHub } from '../startHub.js';
import { checksums, connectClient, startTestHub, testGradient } from '../testing/testHub.js';

let hub: RunningHub | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  sockets.splice(0).forEach((s) => s.disconnect());
  await hub?.close();
});

async function raw(url: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  await new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(undefined));
    socket.once('connect_error', reject);
  });
  return socket;
}

it('a flood is refused with RATE_LIMITED and then disconnected; an honest worker on another connection goes on', async () => {
  hub = await startTestHub();
  const honest = await connectClient(hub);
  const before = await checksums(hub);
  const flooder = await raw(hub.url);
  await flooder.timeout(5000).emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, backend: 'flood' });
  // Within the budget, every message is answered.
  const within = await Promise.all(
    Array.from({ length: 50 }, () => flooder.timeout(5000).emitWithAck('pull', {})),
  );
  expect(within.every((reply: { ok: boolean }) => reply.ok)).toBe(true);
  const closed = new Promise((resolve) => flooder.once('disconnect', resolve));
  const errors: { code: string }[] = [];
  flooder.on('hub:error', (e: { code: string }) => errors.push(e));
  const replies = await Promise.all(
    Array.from({ length: 1_000 }, () =>
      flooder
        .timeout(5000)
        .emitWithAck('pull', {})
        .catch(() => ({ ok: false, error: { code: 'NO_ANSWER' } })),
    ),
  );
  const codes = replies.map((r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'OK' : r.error!.code));
  expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThan(100);
  await closed;
  expect(errors.map((e) => e.code)).toContain('TOO_MANY_STRIKES');

  // The honest worker is untouched, and so are the weights.
  const pulled = await honest.pull();
  expect(await checksums(hub)).toEqual(before);
  await honest.push({
    gradient: testGradient(pulled.weights.length, 1),
    versions: pulled.versions,
    examples: 1,
    loss: 1,
  });
  expect((await hub.hub.status()).refusals).toMatchObject({
    RATE_LIMITED: expect.any(Number),
    TOO_MANY_STRIKES: 1,
  });
  honest.close();
});

it('a client that keeps sending garbage is disconnected after its strikes; the hub stays up', async () => {
  hub = await startTestHub();
  const garbage = await raw(hub.url);
  const closed = new Promise((resolve) => garbage.once('disconnect', resolve));
  let refused = 0;
  while (garbage.connected && refused < 500) {
    const reply = await garbage
      .timeout(2000)
      .emitWithAck('push', { nonsense: refused })
      .catch(() => null);
    if (reply && !reply.ok) refused++;
  }
  await closed;
  expect(refused).toBeGreaterThanOrEqual(99);
  expect(refused).toBeLessThanOrEqual(101);
  const status = await (await fetch(`${hub.url}/api/status`)).json();
  expect(status.refusals.TOO_MANY_STRIKES).toBe(1);
});

/** Sends refused messages until the hub closes the connection for strikes. */
async function strikeOut(socket: Socket): Promise<void> {
  const closed = new Promise((resolve) => socket.once('disconnect', resolve));
  while (socket.connected)
    await socket
      .timeout(2000)
      .emitWithAck('push', { nonsense: true })
      .catch(() => null);
  await closed;
}

it('an address struck out --ban-after times is refused with BANNED until --ban-secs pass; connected workers go on', async () => {
  hub = await startTestHub({ banAfter: 2, banSecs: 2 });
  const honest = await connectClient(hub);
  await strikeOut(await raw(hub.url));
  // One strike-out is not enough: people behind one address must not pay for one of them at once.
  const second = await raw(hub.url);
  await strikeOut(second);

  const refused = io(hub.url, { transports: ['websocket'], reconnection: false });
  sockets.push(refused);
  const error = await new Promise<Error & { data?: { code: string; retryAfterSecs: number } }>((resolve) =>
    refused.once('connect_error', resolve),
  );
  expect(error.data).toMatchObject({ code: 'BANNED', retryAfterSecs: expect.any(Number) });
  expect(error.message).toMatch(/try again in \d+ s/);
  await expect(connectClient(hub)).rejects.toMatchObject({ code: 'BANNED' });

  // A worker connected before the ban trains on.
  const pulled = await honest.pull();
  await honest.push({
    gradient: testGradient(pulled.weights.length, 2),
    versions: pulled.versions,
    examples: 1,
    loss: 1,
  });

  await new Promise((resolve) => setTimeout(resolve, 2_100));
  const after = await connectClient(hub);
  expect(after.workerId).toBeTruthy();
  after.close();
  honest.close();
  expect((await hub.hub.status()).refusals).toMatchObject({ TOO_MANY_STRIKES: 2, BANNED: 2 });
});
