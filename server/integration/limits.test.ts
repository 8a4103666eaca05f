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
  expect(codes.filter((c) => c === 'OK').length).toBeGreaterThan(0);
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
