import { afterEach, describe, expect, it } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';

describe.each([1, 3, 7])('a hub with %i shard(s), over real sockets', (shardCount) => {
  let hub: RunningHub;
  let client: HubClient;

  afterEach(async () => {
    client?.close();
    await hub?.close();
  });

  it('pulling every shard and concatenating gives exactly the model flat weights', async () => {
    hub = await startTestHub({ shards: shardCount });
    client = await connectClient(hub);
    const expected = await hub.hub.weights();
    const ranges = client.config.shards;
    expect(ranges).toHaveLength(shardCount);
    expect(ranges.reduce((n, r) => n + r.length, 0)).toBe(client.config.params);

    const concatenated = new Float32Array(client.config.params);
    for (const range of ranges) {
      const pulled = await client.pull({ shards: [range.index] });
      expect(pulled.weights.length).toBe(range.length);
      concatenated.set(pulled.weights, range.offset);
    }
    expect(concatenated).toEqual(expected);
    expect((await client.pull()).weights).toEqual(expected);
  });

  it('a push split per shard changes exactly the ranges it covers', async () => {
    hub = await startTestHub({ shards: shardCount, optimizer: 'sgd', learningRate: 0.5 });
    client = await connectClient(hub);
    const ranges = client.config.shards;
    let expected = await hub.hub.weights();
    for (const range of ranges) {
      const before = await client.pull();
      const gradient = testGradient(range.length, range.index + 1);
      await client.push({ shards: [range.index], gradient, versions: before.versions, examples: 1, loss: 1 });
      expected = expected.slice();
      for (let i = 0; i < range.length; i++) {
        expected[range.offset + i] = Math.fround(expected[range.offset + i] - Math.fround(0.5 * gradient[i]));
      }
      const after = await hub.hub.weights();
      expect(after).toEqual(expected);
      const versions = (await client.pull()).versions;
      expect(versions[range.index]).toBe(before.versions[range.index] + 1);
      versions.forEach((v, i) => i !== range.index && expect(v).toBe(before.versions[i]));
    }
  });

  it('pulls and pushes named tensors (keys), routed to the shards that hold them', async () => {
    hub = await startTestHub({ shards: shardCount, optimizer: 'sgd', learningRate: 1 });
    client = await connectClient(hub);
    const layout = client.config.layout;
    const all = await hub.hub.weights();
    // The largest tensor: with 7 shards it spans several of them.
    const key = 'logits/kernel';
    const slot = hub.hub.layout.tensors.find((t) => t.name === key)!;
    expect(layout.map((t) => t.name)).toContain(key);

    const pulled = await client.pull({ keys: [key, 'conv1/bias'] });
    const bias = hub.hub.layout.tensors.find((t) => t.name === 'conv1/bias')!;
    expect(pulled.weights.subarray(0, slot.length)).toEqual(
      all.subarray(slot.offset, slot.offset + slot.length),
    );
    expect(pulled.weights.subarray(slot.length)).toEqual(
      all.subarray(bias.offset, bias.offset + bias.length),
    );

    const gradient = testGradient(slot.length, 99);
    await client.push({ keys: [key], gradient, versions: pulled.versions, examples: 1, loss: 1 });
    const after = await hub.hub.weights();
    for (let i = 0; i < all.length; i++) {
      const inside = i >= slot.offset && i < slot.offset + slot.length;
      const want = inside ? Math.fround(all[i] - gradient[i - slot.offset]) : all[i];
      if (after[i] !== want) expect.fail(`float ${i}: ${after[i]} !== ${want} (inside ${key}: ${inside})`);
    }
  });
});
