import { afterAll, beforeAll, expect, it } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { checksums, connectClient, startTestHub, testGradient } from '../testing/testHub.js';

// deep-cnn has 3,274,634 parameters: a whole gradient is 13 MB, 13x socket.io's default 1 MB limit.
let hub: RunningHub;
let client: HubClient;

beforeAll(async () => {
  hub = await startTestHub({ model: 'deep-cnn', shards: 3, evalExamples: 100 });
  client = await connectClient(hub);
}, 120_000);

afterAll(async () => {
  client?.close();
  await hub?.close();
});

it('pulls and pushes a 13 MB deep-cnn gradient over a real socket', async () => {
  const before = await checksums(hub);
  const pulled = await client.pull();
  expect(pulled.weights.byteLength).toBe(3_274_634 * 4);
  // Byte comparison: vitest's deep equality walks 3.2M floats one by one (seconds).
  expect(bytesOf(pulled.weights).equals(bytesOf(await hub.hub.weights()))).toBe(true);
  const reply = await client.push({
    gradient: testGradient(pulled.weights.length, 11),
    versions: pulled.versions,
    examples: 64,
    loss: 2.3,
  });
  expect(reply.globalStep).toBe(1);
  const after = await checksums(hub);
  after.forEach((c, i) => expect(c).not.toBe(before[i]));
  expect(client.connected).toBe(true);
});

it('pushes one 4.4 MB shard at a time', async () => {
  for (const shard of client.config.shards) {
    const pulled = await client.pull({ shards: [shard.index] });
    expect(pulled.weights.length).toBe(shard.length);
    await client.push({
      shards: [shard.index],
      gradient: testGradient(shard.length, shard.index),
      versions: pulled.versions,
      examples: 1,
      loss: 1,
    });
  }
  expect((await hub.hub.status()).shards.map((s) => s.version)).toEqual([2, 2, 2]);
});

function bytesOf(floats: Float32Array): Buffer {
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
}
