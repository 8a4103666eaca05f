import { afterEach, expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import type { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';
import { connectClient, startTestHub } from '../testing/testHub.js';
import { initNodeTf } from '../tf/initNodeTf.js';

let hub: RunningHub | undefined;
let client: HubClient | undefined;

afterEach(async () => {
  client?.close();
  await hub?.close();
  hub = undefined;
});

/** Batch sizes a real worker used, step by step, on a hub that sizes batches for `targetStepMs`. */
async function batchesFor(targetStepMs: number): Promise<number[]> {
  hub = await startTestHub({ mode: 'sync', targetStepMs, unitSize: 4096 });
  client = await connectClient(hub, 'wasm');
  const batches: number[] = [];
  let seen = 0;
  await new GradientWorker({
    client,
    maxSteps: 12,
    onStep: (r) => {
      batches.push(r.examples - seen);
      seen = r.examples;
    },
  }).run();
  client.close();
  await hub.close();
  hub = undefined;
  return batches;
}

it('--target-step-ms sizes a worker’s batch from its measured speed', async () => {
  await initNodeTf('wasm');
  const quick = await batchesFor(5);
  const slow = await batchesFor(400);
  console.log(`  batches at 5 ms: ${quick.join(' ')}; at 400 ms: ${slow.join(' ')}`);
  // The first gradient uses the hub's default batch; later ones follow the measured speed.
  expect(quick[0]).toBe(64);
  expect(slow[0]).toBe(64);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  expect(median(quick.slice(3))).toBeLessThan(64);
  expect(median(slow.slice(3))).toBeGreaterThan(64 * 2);
});
