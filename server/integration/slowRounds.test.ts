import { afterEach, expect, it } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import type { TrainingMode } from '../../shared/protocol.js';
import type { RunningHub } from '../startHub.js';
import { connectClient, startTestHub, testGradient } from '../testing/testHub.js';

/**
 * Every worker slower than the round's deadline: the round closes empty and reopens under a new id.
 * Nothing was applied in between, so a late push was computed on the open round's weights and is
 * taken; refusing it (STALE_ROUND) would leave training stuck for good.
 */
const DEADLINE_MS = 1_000;
// Local rounds: 0.1 s of training plus DEADLINE_MS to push; sync rounds: DEADLINE_MS.
const GRADIENT_MS = 1_200;
let hub: RunningHub;
let client: HubClient;

afterEach(async () => {
  client?.close();
  await hub?.close();
});

it.each<TrainingMode>(['sync', 'local'])(
  '%s: a worker slower than the round deadline (1.2 s a push) still trains, round after round',
  async (mode) => {
    hub = await startTestHub({
      mode,
      shards: 2,
      roundTimeoutMs: DEADLINE_MS,
      roundSecs: mode === 'local' ? 0.1 : undefined,
      localSteps: 2,
      batchSize: 16,
      compressChanges: 'none',
    });
    client = await connectClient(hub);
    for (let step = 1; step <= 3; step++) {
      const pulled = await client.pull();
      await new Promise((resolve) => setTimeout(resolve, GRADIENT_MS));
      // The round it pulled closed empty meanwhile and was reopened under a new id.
      expect(hub.hub.coordinator.status().round).not.toBe(pulled.round);
      const result = await client.push({
        gradient: testGradient(pulled.weights.length, step).map((v) => v * 1e-3),
        versions: pulled.versions,
        round: pulled.round,
        localSteps: mode === 'local' ? 2 : undefined,
        examples: 16,
        loss: 1,
      });
      expect(result.globalStep).toBe(step);
    }
  },
);

it('a push for a round before an applied update is still refused STALE_ROUND', async () => {
  hub = await startTestHub({ mode: 'sync', shards: 2, roundTimeoutMs: DEADLINE_MS, batchSize: 16 });
  client = await connectClient(hub);
  const old = await client.pull();
  await client.push({
    gradient: testGradient(old.weights.length, 1).map((v) => v * 1e-3),
    versions: old.versions,
    round: old.round,
    examples: 16,
    loss: 1,
  });
  const refused = client.push({
    gradient: testGradient(old.weights.length, 2).map((v) => v * 1e-3),
    versions: old.versions,
    round: old.round,
    examples: 16,
    loss: 1,
  });
  await expect(refused).rejects.toMatchObject({ code: 'STALE_ROUND' });
});
