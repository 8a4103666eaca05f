import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatsToBytes } from '../../shared/floatCodec.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { RunningHub } from '../startHub.js';
import { checksums, connectClient, startTestHub, testGradient } from '../testing/testHub.js';

/**
 * Hostile and broken messages over a real socket: each gets a named error, the hub stays up, and no
 * shard's checksum moves.
 */
let hub: RunningHub;
let socket: Socket;
let params: number;
let shardLength: number;
let versions: number[];
let before: string[];

function raw(): Promise<Socket> {
  const s = io(hub.url, { transports: ['websocket'], reconnection: false });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

async function send(event: string, payload: unknown): Promise<{ ok: boolean; error?: { code: string } }> {
  return socket.timeout(5000).emitWithAck(event, payload);
}

function push(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    pushId: 'p1',
    versions,
    examples: 1,
    loss: 0.5,
    gradient: floatsToBytes(testGradient(params, 1)),
    ...overrides,
  };
}

beforeAll(async () => {
  hub = await startTestHub({ shards: 3 });
  socket = await raw();
  const hello = await send('hello', { protocolVersion: PROTOCOL_VERSION, backend: 'test' });
  expect(hello.ok).toBe(true);
  params = hub.hub.layout.totalLength;
  shardLength = hub.hub.shardRanges[0].length;
  versions = hub.hub.shardRanges.map(() => 0);
  before = await checksums(hub);
});

afterAll(async () => {
  socket?.disconnect();
  await hub?.close();
});

describe('refused with a named error', () => {
  it.each([
    ['wrong byte length', () => push({ gradient: new Uint8Array(params * 4 - 4) }), 'BAD_LENGTH'],
    ['odd byte count', () => push({ gradient: new Uint8Array(params * 4 + 1) }), 'BAD_LENGTH'],
    ['NaN in the gradient', () => push({ gradient: floatsToBytes(withValue(NaN)) }), 'NON_FINITE'],
    ['Infinity in the gradient', () => push({ gradient: floatsToBytes(withValue(Infinity)) }), 'NON_FINITE'],
    [
      '-Infinity in the gradient',
      () => push({ gradient: floatsToBytes(withValue(-Infinity)) }),
      'NON_FINITE',
    ],
    [
      'unknown shard',
      () => push({ shards: [3], gradient: new Uint8Array(shardLength * 4) }),
      'UNKNOWN_SHARD',
    ],
    [
      'repeated shard',
      () => push({ shards: [0, 0], gradient: new Uint8Array(shardLength * 8) }),
      'UNKNOWN_SHARD',
    ],
    ['unknown key', () => push({ keys: ['no/such'], gradient: new Uint8Array(4) }), 'UNKNOWN_KEY'],
    [
      'non-binary gradient (JSON numbers)',
      () => push({ keys: ['conv1/bias'], gradient: [1, 2, 3, 4, 5, 6, 7, 8] }),
      'INVALID_MESSAGE',
    ],
    ['loss NaN (arrives as null)', () => push({ loss: NaN }), 'INVALID_MESSAGE'],
    ['missing field', () => ({ versions, examples: 1, loss: 1 }), 'INVALID_MESSAGE'],
    ['extra field', () => push({ evil: true }), 'INVALID_MESSAGE'],
    ['wrong versions count', () => push({ versions: [0] }), 'INVALID_MESSAGE'],
    ['a string instead of an object', () => 'hello', 'INVALID_MESSAGE'],
  ])('%s', async (_name, payload, code) => {
    const reply = await send('push', payload());
    expect(reply).toMatchObject({ ok: false, error: { code } });
  });

  it('an unknown event, with and without an ack', async () => {
    expect(await send('steal-weights', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_EVENT' } });
    const event = new Promise((resolve) => socket.once('hub:error', resolve));
    socket.emit('steal-weights', {});
    expect(await event).toMatchObject({ code: 'UNKNOWN_EVENT', event: 'steal-weights' });
  });

  it('a push without an ack callback gets a hub:error event', async () => {
    const event = new Promise((resolve) => socket.once('hub:error', resolve));
    socket.emit('push', push({ gradient: new Uint8Array(8) }));
    expect(await event).toMatchObject({ code: 'BAD_LENGTH', event: 'push' });
  });

  it('a wrong protocol version, naming the older side', async () => {
    const other = await raw();
    try {
      const old = await other.timeout(5000).emitWithAck('hello', { protocolVersion: 0, backend: 'x' });
      expect(old).toMatchObject({ ok: false, error: { code: 'PROTOCOL_MISMATCH' } });
      expect(old.error.message).toMatch(/client is too old/);
      const newer = await other
        .timeout(5000)
        .emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION + 1, backend: 'x' });
      expect(newer.error.message).toMatch(/hub is too old/);
    } finally {
      other.disconnect();
    }
  });

  it('pull and push before hello', async () => {
    const other = await raw();
    try {
      expect(await other.timeout(5000).emitWithAck('pull', {})).toMatchObject({
        error: { code: 'NOT_REGISTERED' },
      });
      expect(await other.timeout(5000).emitWithAck('push', push({}))).toMatchObject({
        error: { code: 'NOT_REGISTERED' },
      });
    } finally {
      other.disconnect();
    }
  });

  it('completing a unit that is not leased to the worker', async () => {
    expect(await send('unit:complete', { unitId: 12345 })).toMatchObject({ error: { code: 'UNKNOWN_UNIT' } });
  });
});

describe('oversized', () => {
  // A whole gradient as JSON numbers is ~6x its binary size: it is cut off here too.
  it('a message larger than the model allows closes only that socket', async () => {
    const other = await raw();
    // The hub's websocket (maxPayload: workerSocketOptions' maxHttpBufferSize) closes the connection
    // with 1009, Message Too Big; socket.io reports the transport closing under it.
    const closed = new Promise<{ reason: string; code: unknown }>((resolve) =>
      other.once('disconnect', (reason, description) =>
        resolve({
          reason,
          code: (description as { context?: { code?: unknown } } | undefined)?.context?.code,
        }),
      ),
    );
    other.emit('push', push({ gradient: new Uint8Array(params * 4 + 1024 * 1024) }));
    expect(await closed).toEqual({ reason: 'transport close', code: 1009 });
    expect(socket.connected).toBe(true);
    expect((await send('pull', {})).ok).toBe(true);
  });
});

describe('after all that', () => {
  it('the weights are untouched, the hub answers, and an honest worker still trains', async () => {
    expect(socket.connected).toBe(true);
    expect(await checksums(hub)).toEqual(before);
    const status = await (await fetch(`${hub.url}/api/status`)).json();
    expect(status.globalStep).toBe(0);
    const client = await connectClient(hub);
    try {
      const pulled = await client.pull();
      await client.push({
        gradient: testGradient(params, 5),
        versions: pulled.versions,
        examples: 1,
        loss: 1,
      });
      expect((await checksums(hub)).every((c, i) => c !== before[i])).toBe(true);
    } finally {
      client.close();
    }
  });
});

function withValue(value: number): Float32Array {
  const g = testGradient(params, 3);
  g[Math.floor(params / 2)] = value;
  return g;
}
