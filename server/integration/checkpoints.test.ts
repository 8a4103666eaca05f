import { rm, truncate } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { examplesToTensors } from '../../shared/examplesTensors.js';
import { HubClient } from '../../shared/HubClient.js';
import { CheckpointStore } from '../checkpoints/CheckpointStore.js';
import { CheckpointMismatchError } from '../checkpoints/runCheckpoint.js';
import { loadMnistSplit } from '../data/mnist.js';
import { DEFAULT_HUB_OPTIONS, type HubOptions } from '../options.js';
import type { RunningHub } from '../startHub.js';
import { checkpointedHubsEach } from '../testing/checkpointedHubs.js';
import { testGradient } from '../testing/testHub.js';

const OPTIONS: HubOptions = {
  ...DEFAULT_HUB_OPTIONS,
  // Its clients push by hand: no backend to check.
  knownAnswer: false,
  mode: 'async',
  shards: 3,
  evalIntervalMs: 600_000,
  evalExamples: 2_000,
};
const hubs = checkpointedHubsEach('hub-checkpoints', 3);
const start = (options: HubOptions = OPTIONS, log: string[] = []) => hubs.start(options, log);
const stop = (hub: RunningHub) => hubs.stop(hub);

async function pushGradients(hub: RunningHub, seeds: number[]): Promise<void> {
  const client = hubs.track(await HubClient.connect({ url: hub.url, backend: 'test' }));
  for (const seed of seeds) {
    const pulled = await client.pull();
    await client.push({
      gradient: testGradient(pulled.weights.length, seed),
      versions: pulled.versions,
      examples: 10,
      loss: 1,
    });
  }
  client.close();
}

it('resumes exactly: weights, Adam state and counters carry on as if never stopped', async () => {
  const first = await start();
  await pushGradients(first, [1, 2, 3, 4, 5]);
  expect(await first.checkpointNow!()).toMatchObject({ globalStep: 5 });
  const atCheckpoint = await first.hub.status();
  await pushGradients(first, [6]);
  const continued = await first.hub.weights();
  await stop(first); // writes a last checkpoint at step 6: drop it to resume from step 5
  const files = await new CheckpointStore(hubs.dir, 3).list();
  expect(files).toHaveLength(2);
  await rm(files[0]);

  const log: string[] = [];
  const second = await start(OPTIONS, log);
  expect(log.join('\n')).toMatch(/resumed from .*step 5, test accuracy \d\.\d{4}, saved \d+ s ago/);
  const resumed = await second.hub.status();
  expect(resumed).toMatchObject({ globalStep: 5, examplesSeen: 50, pushesAccepted: 5 });
  expect(resumed.shards).toEqual(atCheckpoint.shards);
  expect(resumed.testAccuracy).not.toBeNull();
  // The same sixth gradient on the resumed hub lands exactly where it did on the first: Adam's moments
  // and bias-correction step were restored, not restarted.
  await pushGradients(second, [6]);
  expect(Buffer.from((await second.hub.weights()).buffer).equals(Buffer.from(continued.buffer))).toBe(true);
});

it('graceful shutdown writes a last checkpoint and a restart continues from exactly that step', async () => {
  const first = await start();
  await pushGradients(first, [1, 2, 3]);
  const before = await first.hub.status();
  await stop(first);
  const second = await start();
  const after = await second.hub.status();
  expect(after.globalStep).toBe(3);
  expect(after.shards.map((s) => s.checksum)).toEqual(before.shards.map((s) => s.checksum));
});

it('a truncated checkpoint is detected, reported, and the one before it is used', async () => {
  const first = await start();
  await pushGradients(first, [1, 2]);
  await first.checkpointNow!();
  await pushGradients(first, [3]);
  await stop(first); // the newest file: step 3
  const [newest] = await new CheckpointStore(hubs.dir, 3).list();
  await truncate(newest, 1000);

  const log: string[] = [];
  const second = await start(OPTIONS, log);
  expect(log.join('\n')).toContain(`checkpoint ${newest} is damaged`);
  expect(log.join('\n')).toMatch(/resumed from .*step 2/);
  expect((await second.hub.status()).globalStep).toBe(2);
});

it('a checkpoint of another model or shard count is refused with both named; --fresh starts anew', async () => {
  const first = await start();
  await pushGradients(first, [1]);
  await stop(first);
  await expect(start({ ...OPTIONS, model: 'mlp' })).rejects.toThrow(CheckpointMismatchError);
  await expect(start({ ...OPTIONS, shards: 5 })).rejects.toThrow(/saved with 3 shards \(asked: 5\)/);
  await expect(start({ ...OPTIONS, model: 'mlp' })).rejects.toThrow(/model cnn \(asked: mlp\).*--fresh/);
  hubs.checkpoints = { ...hubs.checkpoints, fresh: true };
  const fresh = await start({ ...OPTIONS, model: 'mlp' });
  expect((await fresh.hub.status()).globalStep).toBe(0);
});

it('the exported model loads with tf.loadLayersModel and scores the accuracy the hub reports', async () => {
  const hub = await start({ ...OPTIONS, evalExamples: 2_000, optimizer: 'sgd', learningRate: 0.01 });
  await pushGradients(hub, [1, 2, 3]);
  const reported = await hub.hub.evaluateNow();
  const model = await tf.loadLayersModel(`${hub.url}/api/model/model.json`);
  const test = await loadMnistSplit('test');
  const { xs, ys } = examplesToTensors(test, 0, 2_000);
  const hits = tf.tidy(() =>
    tf.equal(tf.argMax(model.predict(xs) as tf.Tensor, -1), tf.argMax(ys, -1)).sum(),
  );
  const accuracy = (await hits.data())[0] / 2_000;
  tf.dispose([xs, ys, hits]);
  model.dispose();
  expect(Math.abs(accuracy - reported.accuracy)).toBeLessThanOrEqual(1e-3);
});

it('a resume restores what the operator changed during the run (learning rate, mode), as shard processes do', async () => {
  const first = await start();
  const admin = (action: string, body: object) =>
    fetch(`${first.url}/api/admin/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  expect((await admin('learning-rate', { learningRate: 0.0005 })).status).toBe(200);
  expect((await admin('mode', { mode: 'sync' })).status).toBe(200);
  await first.checkpointNow!();
  await stop(first);

  const log: string[] = [];
  const second = await start(OPTIONS, log);
  const status = await second.hub.status();
  expect(status.learningRate).toBe(0.0005);
  expect(status.mode).toBe('sync');
  expect(log.join('\n')).toMatch(
    /restores what the operator changed.*learning rate 0\.0005 \(the flags say 0\.001\); mode sync/,
  );
});
