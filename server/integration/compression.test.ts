import { f16round } from '@petamoriken/float16';
import { io } from 'socket.io-client';
import { expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { closedAfterEach } from '../testing/closedAfterEach.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';

const opened = closedAfterEach();

it('--compress fp16: workers push half floats, the hub applies exactly those, and still takes float32', async () => {
  opened.hub = await startTestHub({ compress: 'fp16', optimizer: 'sgd', learningRate: 0.5 });
  const hub = opened.hub;
  const client = await connectClient(hub);
  opened.clients.push(client);
  expect(client.config.compress).toBe('fp16');

  const before = await hub.hub.weights();
  const pulled = await client.pull();
  const g = testGradient(before.length, 5);
  await client.push({ gradient: g, versions: pulled.versions, examples: 1, loss: 1 });
  const after = await hub.hub.weights();
  after.forEach((w, i) => {
    if (w !== Math.fround(before[i] - Math.fround(0.5 * f16round(g[i]))))
      expect.fail(`float ${i}: ${w} is not the weight moved by 0.5 x the half-rounded gradient`);
  });

  // Over a raw socket: the byte length must match the encoding it names; float32 is still fine.
  const socket = io(hub.url, { transports: ['websocket'], reconnection: false });
  try {
    await socket.emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, backend: 'raw' });
    const { versions } = await socket.emitWithAck('pull', {});
    const push = (fields: object) =>
      socket.emitWithAck('push', { pushId: `p${Math.random()}`, versions, examples: 1, loss: 1, ...fields });
    const asFloat32 = new Uint8Array(new Float32Array(before.length).buffer);
    expect(await push({ encoding: 'f16', gradient: asFloat32 })).toMatchObject({
      ok: false,
      error: { code: 'BAD_LENGTH' },
    });
    expect(await push({ encoding: 'f64', gradient: asFloat32 })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_MESSAGE' },
    });
    expect(await push({ gradient: asFloat32 })).toMatchObject({ ok: true });
  } finally {
    socket.disconnect();
  }
});
