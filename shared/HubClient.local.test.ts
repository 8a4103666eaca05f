import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';

import { floatsToBytes, type Binary } from './floatCodec.js';
import { halfBytesToFloats } from './halfCodec.js';
import { HubClient } from './HubClient.js';
import type { Compression, PushRequest, RunConfig } from './protocol.js';

const PARAMS = 4;

/**
 * A socket.io peer that answers hello with `config`, every pull with a local round, and records what
 * each push carried: enough to see how HubClient encodes and decodes, without a hub.
 */
async function startPeer(compress: Compression, compressChanges: Compression) {
  const config: RunConfig = {
    mode: 'local',
    model: 'mlp',
    params: PARAMS,
    layout: [{ name: 'w', shape: [PARAMS] }],
    shards: [{ index: 0, offset: 0, length: PARAMS }],
    batchSize: 8,
    optimizer: 'adam',
    learningRate: 0.001,
    roundTimeoutMs: 1_000,
    compress,
    compressChanges,
    knownAnswer: false,
  };
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  const pushes: PushRequest[] = [];
  io.on('connection', (socket) => {
    socket.on('hello', (_request, ack) => ack({ ok: true, workerId: 'w1', config }));
    socket.on('pull', (_request, ack) =>
      ack({
        ok: true,
        versions: [3],
        globalStep: 3,
        round: 7,
        local: { steps: 50, trainMs: 2_000 },
        weights: floatsToBytes(Float32Array.from([1, 2, 3, 4])),
      }),
    );
    socket.on('push', (request: PushRequest, ack) => {
      pushes.push(request);
      ack({ ok: true, globalStep: 4, staleness: 0 });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  peers.push({ io, http });
  const client = await HubClient.connect({ url: `http://127.0.0.1:${port}`, backend: 'test' });
  clients.push(client);
  return { client, pushes };
}

const peers: { io: Server; http: HttpServer }[] = [];
const clients: HubClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const { io } of peers.splice(0)) await io.close();
});

const bytesOf = (payload: Binary) => payload.byteLength;

describe('HubClient in local mode', () => {
  it('passes the round and its plan through a pull', async () => {
    const { client } = await startPeer('none', 'fp16');
    const pulled = await client.pull();
    expect(pulled.round).toBe(7);
    expect(pulled.local).toEqual({ steps: 50, trainMs: 2_000 });
    expect(Array.from(pulled.weights)).toEqual([1, 2, 3, 4]);
  });

  it('encodes a weight change by compressChanges and a gradient by compress', async () => {
    const { client, pushes } = await startPeer('none', 'fp16');
    const change = Float32Array.from([0.5, -0.25, 1e-3, 2]);
    await client.push({ gradient: change, versions: [3], round: 7, localSteps: 50, examples: 400, loss: 1 });
    await client.push({ gradient: change, versions: [3], examples: 8, loss: 1 });

    expect(pushes[0].encoding).toBe('f16');
    expect(pushes[0].localSteps).toBe(50);
    expect(bytesOf(pushes[0].gradient)).toBe(PARAMS * 2);
    const decoded = halfBytesToFloats(pushes[0].gradient);
    for (let i = 0; i < PARAMS; i++) expect(decoded[i]).toBeCloseTo(change[i], 3);
    expect(pushes[1].encoding).toBeUndefined();
    expect(bytesOf(pushes[1].gradient)).toBe(PARAMS * 4);
  });

  it('sends float32 changes when compressChanges is none, whatever compress says', async () => {
    const { client, pushes } = await startPeer('fp16', 'none');
    const change = Float32Array.from([0.5, -0.25, 1e-3, 2]);
    await client.push({ gradient: change, versions: [3], round: 7, localSteps: 5, examples: 40, loss: 1 });
    await client.push({ gradient: change, versions: [3], examples: 8, loss: 1 });

    expect(pushes[0].encoding).toBeUndefined();
    expect(bytesOf(pushes[0].gradient)).toBe(PARAMS * 4);
    expect(pushes[1].encoding).toBe('f16');
  });
});
