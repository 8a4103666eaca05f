import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import type { TrainingMode } from '../../shared/protocol.js';
import type { CheckpointOptions } from '../checkpoints/Checkpointer.js';
import { DEFAULT_HUB_OPTIONS, type HubOptions } from '../options.js';
import { startHub, type RunningHub } from '../startHub.js';
import { connectClient, TEST_LISTEN, testGradient } from '../testing/testHub.js';

/**
 * A graceful shutdown with pushes in flight loses none that it acknowledged: eight connections keep
 * pushing while the hub closes, and the restarted hub resumes at or past the highest step any of them
 * was told. (The last checkpoint measures the whole test set first: before intake stopped first,
 * pushes acknowledged during that evaluation were lost.)
 */
const CONNECTIONS = 8;
let dir: string;
const hubs: RunningHub[] = [];
const clients: HubClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const hub of hubs.splice(0)) await hub.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function start(mode: TrainingMode): Promise<RunningHub> {
  const options: HubOptions = {
    ...DEFAULT_HUB_OPTIONS,
    // Its clients push by hand: no backend to check.
    knownAnswer: false,
    mode,
    shards: 2,
    roundTimeoutMs: 2_000,
    evalIntervalMs: 600_000,
    // The full test set: the last checkpoint's evaluation takes long enough for pushes to land in it.
    evalExamples: 10_000,
  };
  const checkpoints: CheckpointOptions = { dir, intervalMs: 600_000, keep: 3, fresh: false };
  const hub = await startHub(options, TEST_LISTEN, checkpoints);
  hubs.push(hub);
  return hub;
}

/** Pulls and pushes until refused or cut off; returns the highest global step acknowledged. */
async function pushUntilRefused(client: HubClient, seed: number): Promise<number> {
  let highest = 0;
  for (let i = 0; ; i++) {
    try {
      const pulled = await client.pull();
      const gradient = testGradient(pulled.weights.length, seed * 1_000 + i).map((v) => v * 1e-3);
      const result = await client.push({
        gradient,
        versions: pulled.versions,
        round: pulled.round,
        examples: 64,
        loss: 1,
      });
      highest = Math.max(highest, result.globalStep);
    } catch {
      // Refused (SHUTTING_DOWN) or disconnected: the hub is going away.
      return highest;
    }
  }
}

it.each<TrainingMode>(['async', 'sync'])(
  '%s: shutting down with pushes in flight, every acknowledged step is in the last checkpoint',
  async (mode) => {
    dir = await mkdtemp(join(tmpdir(), 'hub-shutdown-'));
    const first = await start(mode);
    for (let i = 0; i < CONNECTIONS; i++) clients.push(await connectClient(first));
    const loops = clients.map((client, i) => pushUntilRefused(client, i + 1));
    // Load first, then the shutdown in the middle of it.
    while (first.hub.coordinator.status().globalStep < 20) await new Promise((r) => setTimeout(r, 20));
    hubs.splice(hubs.indexOf(first), 1);
    const closed = first.close();
    const acknowledged = Math.max(...(await Promise.all(loops)));
    await closed;
    for (const client of clients.splice(0)) client.close();

    const second = await start(mode);
    const resumed = second.hub.coordinator.status().globalStep;
    console.log(`${mode}: acknowledged up to step ${acknowledged}, resumed at ${resumed}`);
    expect(acknowledged).toBeGreaterThanOrEqual(20);
    expect(resumed).toBeGreaterThanOrEqual(acknowledged);
  },
);
