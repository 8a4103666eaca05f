import { expect, it } from 'vitest';
import { closedAfterEach } from '../testing/closedAfterEach.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';

const opened = closedAfterEach();

it('async: a push with pullAfter answers with exactly the weights and versions after it', async () => {
  opened.hub = await startTestHub({ mode: 'async', optimizer: 'sgd', learningRate: 0.1, shards: 3 });
  const hub = opened.hub;
  const client = await connectClient(hub);
  opened.clients.push(client);

  const pulled = await client.pull();
  const gradient = testGradient(pulled.weights.length, 3);
  const plain = await client.push({ gradient, versions: pulled.versions, examples: 8, loss: 1 });
  expect(plain.pulled).toBeUndefined();

  const reply = await client.push({
    gradient,
    versions: pulled.versions,
    examples: 8,
    loss: 1,
    pullAfter: true,
  });
  const after = await hub.hub.weights();
  expect(reply.pulled).toBeDefined();
  expect(reply.pulled!.versions).toEqual([2, 2, 2]);
  expect(reply.pulled!.globalStep).toBe(reply.globalStep);
  expect(Array.from(reply.pulled!.weights)).toEqual(Array.from(after));
  // The same snapshot a pull gets now.
  expect(Array.from((await client.pull()).weights)).toEqual(Array.from(after));
});

it('sync: pullAfter is ignored (a worker pulls to learn its next round)', async () => {
  opened.hub = await startTestHub({ mode: 'sync', optimizer: 'sgd' });
  const client = await connectClient(opened.hub);
  opened.clients.push(client);
  const pulled = await client.pull();
  const gradient = testGradient(pulled.weights.length, 4);
  const reply = await client.push({
    gradient,
    versions: pulled.versions,
    round: pulled.round,
    examples: 8,
    loss: 1,
    pullAfter: true,
  });
  expect(reply.globalStep).toBe(1);
  expect(reply.pulled).toBeUndefined();
});
