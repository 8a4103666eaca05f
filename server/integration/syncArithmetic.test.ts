import { afterEach, expect, it } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import { createUpdateRule } from '../optimizers/updateRules.js';
import type { RunningHub } from '../startHub.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';

let hub: RunningHub;
let clients: HubClient[] = [];

afterEach(async () => {
  clients.forEach((c) => c.close());
  clients = [];
  await hub?.close();
});

it('one sync round moves the weights by exactly lr x N x mean(gradients) under sgd', async () => {
  const lr = 0.01;
  const workers = 3;
  hub = await startTestHub({ mode: 'sync', shards: 3, optimizer: 'sgd', learningRate: lr });
  for (let i = 0; i < workers; i++) clients.push(await connectClient(hub));
  const before = await hub.hub.weights();
  const pulls = await Promise.all(clients.map((c) => c.pull()));
  const round = pulls[0].round;
  expect(round).toBeDefined();
  pulls.forEach((p) => expect(p.round).toBe(round));

  const gradients = clients.map((_, i) => testGradient(before.length, 1000 + i));
  const replies = await Promise.all(
    clients.map((c, i) =>
      c.push({ gradient: gradients[i], versions: pulls[i].versions, round, examples: 64, loss: 1 }),
    ),
  );
  // Every worker's ack arrives after the round is applied, with the same new global step.
  replies.forEach((r) => expect(r.globalStep).toBe(1));

  const after = await hub.hub.weights();
  let worst = 0;
  for (let i = 0; i < before.length; i++) {
    const mean = (gradients[0][i] + gradients[1][i] + gradients[2][i]) / workers;
    const expected = before[i] - lr * workers * mean;
    worst = Math.max(worst, Math.abs(after[i] - expected));
  }
  // float32 arithmetic on values of magnitude ~1: a few ulps.
  expect(worst).toBeLessThan(1e-6);
  const status = await hub.hub.status();
  expect(status.globalStep).toBe(1);
  expect(status.examplesSeen).toBe(64 * workers);
  expect(status.shards.every((s) => s.version === 1)).toBe(true);
});

it('--sync-lr-scaling none: one sync round under adam applies the mean at lr, not lr x N', async () => {
  const lr = 0.01;
  const workers = 4;
  hub = await startTestHub({
    mode: 'sync',
    shards: 2,
    optimizer: 'adam',
    learningRate: lr,
    syncLrScaling: 'none',
  });
  for (let i = 0; i < workers; i++) clients.push(await connectClient(hub));
  const before = await hub.hub.weights();
  const pulls = await Promise.all(clients.map((c) => c.pull()));
  const gradients = clients.map((_, i) => testGradient(before.length, 2000 + i));
  await Promise.all(
    clients.map((c, i) =>
      c.push({
        gradient: gradients[i],
        versions: pulls[i].versions,
        round: pulls[0].round,
        examples: 64,
        loss: 1,
      }),
    ),
  );
  const after = await hub.hub.weights();
  // Adam's first step by hand, on the mean of the four gradients, at the unscaled rate.
  const mean = new Float32Array(before.length);
  gradients.forEach((g) => g.forEach((v, i) => (mean[i] += v / workers)));
  const rule = createUpdateRule('adam');
  const expected = Float32Array.from(before);
  rule.apply(expected, mean, rule.createState(before.length), lr);
  let worst = 0;
  for (let i = 0; i < before.length; i++) worst = Math.max(worst, Math.abs(after[i] - expected[i]));
  // Adam's first step is ~lr per weight: at lr x 4 every weight would be ~0.03 off.
  expect(worst).toBeLessThan(1e-5);
});

it('a gradient for a closed round is refused with STALE_ROUND and changes nothing', async () => {
  hub = await startTestHub({ mode: 'sync', shards: 2, optimizer: 'sgd', learningRate: 0.1 });
  const client = await connectClient(hub);
  clients.push(client);
  const pulled = await client.pull();
  const gradient = testGradient(pulled.weights.length, 7);
  await client.push({ gradient, versions: pulled.versions, round: pulled.round, examples: 8, loss: 1 });
  const weights = await hub.hub.weights();
  await expect(
    client.push({ gradient, versions: pulled.versions, round: pulled.round, examples: 8, loss: 1 }),
  ).rejects.toMatchObject({ code: 'STALE_ROUND' });
  expect(await hub.hub.weights()).toEqual(weights);
});

it('a round waiting for a worker that vanished closes at its deadline with the gradients it has', async () => {
  hub = await startTestHub({
    mode: 'sync',
    shards: 2,
    optimizer: 'sgd',
    learningRate: 0.1,
    roundTimeoutMs: 1500,
  });
  const [a, b] = [await connectClient(hub), await connectClient(hub)];
  clients.push(a, b);
  const pulled = await a.pull();
  await b.pull();
  // b never pushes (it stalls without disconnecting); the round closes at its deadline.
  const reply = await a.push({
    gradient: testGradient(pulled.weights.length, 3),
    versions: pulled.versions,
    round: pulled.round,
    examples: 8,
    loss: 1,
  });
  expect(reply.globalStep).toBe(1);
  expect((await hub.hub.status()).examplesSeen).toBe(8);
});

it('--trust weights each gradient of a sync round by its worker trust (a worker that sent an outlier counts less)', async () => {
  const lr = 0.01;
  hub = await startTestHub({ mode: 'sync', shards: 2, optimizer: 'sgd', learningRate: lr, trust: true });
  const [a, b] = [await connectClient(hub), await connectClient(hub)];
  clients.push(a, b);
  // g and -g: every honest norm is exactly the same, so none is clipped and none is an outlier.
  const g = testGradient(hub.hub.layout.totalLength, 5).map((v) => v * 0.01);
  const minusG = g.map((v) => -v);
  const round = async (pushes: [HubClient, Float32Array][]) => {
    const pulls = await Promise.all(pushes.map(([c]) => c.pull()));
    return Promise.allSettled(
      pushes.map(([c, gradient], i) =>
        c.push({ gradient, versions: pulls[i].versions, round: pulls[i].round, examples: 64, loss: 1 }),
      ),
    );
  };
  // Enough accepted norms for the screen to call one out of line: eight, from the fifth push of each
  // worker on (the trust a volunteer needs before its norms shape the baseline, GradientScreen.ts: BASELINE_TRUST).
  const rounds = 8;
  for (let i = 0; i < rounds; i++)
    await round([
      [a, g],
      [b, minusG],
    ]);
  // b's outlier is refused and halves its trust; the round closes with a's gradient alone.
  const outlier = await round([[b, g.map((v) => v * 1000)]]);
  expect(outlier[0]).toMatchObject({ status: 'rejected', reason: { code: 'OUTLIER' } });
  await round([[a, g]]);
  const before = await hub.hub.weights();
  const last = await round([
    [a, g],
    [b, minusG],
  ]);
  expect(last.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  const after = await hub.hub.weights();
  // Both started on probation (0.5) and gained 0.02 per accepted push (gradientGuard's recovery):
  // a had rounds + 2 by this one; b had `rounds`, then its outlier halved its trust, then this push.
  const trustA = 0.5 + (rounds + 2) * 0.02;
  const trustB = (0.5 + rounds * 0.02) * 0.5 + 0.02;
  const weightA = 64 * trustA;
  const weightB = 64 * trustB;
  let worst = 0;
  for (let i = 0; i < before.length; i++) {
    const mean = (weightA * g[i] + weightB * minusG[i]) / (weightA + weightB);
    worst = Math.max(worst, Math.abs(after[i] - (before[i] - lr * 2 * mean)));
  }
  expect(worst).toBeLessThan(1e-7);
});
