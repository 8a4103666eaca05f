import { afterEach, expect, it } from 'vitest';
import { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { CuttableProxy } from '../testing/CuttableProxy.js';
import { startTestHub, testGradient } from '../testing/testHub.js';

let hub: RunningHub | undefined;
let proxy: CuttableProxy | undefined;
let client: HubClient | undefined;

afterEach(async () => {
  client?.close();
  await proxy?.close();
  await hub?.close();
});

async function setUp(): Promise<{ hub: RunningHub; client: HubClient; proxy: CuttableProxy }> {
  hub = await startTestHub({ shards: 3, optimizer: 'sgd', learningRate: 1 });
  proxy = await CuttableProxy.start(hub.port);
  client = await HubClient.connect({
    url: proxy.url,
    backend: 'test',
    reconnect: true,
    ackTimeoutMs: 20_000,
  });
  return { hub, client, proxy };
}

it.each([
  ['the push reached the hub and its ack was lost', true],
  ['the push was lost on the way', false],
])(
  'a push cut mid-flight and retried after reconnecting is applied exactly once (%s)',
  async (_case, deliver) => {
    const { hub, client, proxy } = await setUp();
    const before = await hub.hub.weights();
    const firstWorker = client.workerId;
    const pulled = await client.pull();
    const gradient = testGradient(before.length, 42);

    const cut = proxy.cutAfterClientSends(gradient.byteLength, deliver);
    const reply = await client.push({ gradient, versions: pulled.versions, examples: 8, loss: 1 });
    await cut;

    // The client reconnected on its own, as a new worker, and its retry was recognised.
    expect(client.workerId).not.toBe(firstWorker);
    expect(client.sessionId).toBe(1);
    expect(reply.duplicate ?? false).toBe(deliver);
    const status = await hub.hub.status();
    expect(status.shards.map((s) => s.version)).toEqual([1, 1, 1]);
    expect(status).toMatchObject({ globalStep: 1, examplesSeen: 8, pushesAccepted: 1 });
    const after = await hub.hub.weights();
    after.forEach((w, i) => {
      if (w !== Math.fround(before[i] - gradient[i])) expect.fail(`float ${i} moved by other than one step`);
    });
  },
);

it('a worker the hub forgot while its socket stayed up says hello again and its push goes through', async () => {
  // What a gateway's workers meet when the coordinator behind it restarts or a standby takes over:
  // the socket is fine, the coordinator no longer knows the worker id.
  hub = await startTestHub({ shards: 2, optimizer: 'sgd', learningRate: 1 });
  client = await HubClient.connect({ url: hub.url, backend: 'test', reconnect: true, ackTimeoutMs: 20_000 });
  const firstWorker = client.workerId;
  const pulled = await client.pull();
  const length = (await hub.hub.weights()).length;
  hub.hub.coordinator.leave(firstWorker);

  const states: string[] = [];
  client.onStateChange((state) => states.push(state));
  const reply = await client.push({
    gradient: testGradient(length, 7),
    versions: pulled.versions,
    examples: 8,
    loss: 1,
  });

  expect(client.workerId).not.toBe(firstWorker);
  expect(client.sessionId).toBe(1);
  expect(states).toEqual(['reconnecting', 'connected']);
  expect(reply.globalStep).toBe(1);
  const status = await hub.hub.status();
  expect(status.workers.map((w) => w.id)).toEqual([client.workerId]);
  expect(status.refusals).toMatchObject({ NOT_REGISTERED: 1 });
});

it('a client without reconnect hears NOT_REGISTERED as it is', async () => {
  hub = await startTestHub({ shards: 1 });
  client = await HubClient.connect({ url: hub.url, backend: 'test', ackTimeoutMs: 20_000 });
  hub.hub.coordinator.leave(client.workerId);
  await expect(client.pull()).rejects.toMatchObject({ code: 'NOT_REGISTERED' });
});
