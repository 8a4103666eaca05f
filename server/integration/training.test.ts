import { describe, expect, it } from 'vitest';
import { GradientWorker } from '../../shared/GradientWorker.js';
import type { TrainingMode } from '../../shared/protocol.js';
import { connectClient, startTestHub } from '../testing/testHub.js';
import { closedAfterEach } from '../testing/closedAfterEach.js';
import { trainUntilTarget } from '../testing/trainUntilTarget.js';
import { initNodeTf } from '../tf/initNodeTf.js';

const TARGET_ACCURACY = 0.9;
const EXAMPLE_BUDGET = 40_000;
const WORKERS = 2;
const BATCH = 64;

const opened = closedAfterEach();

describe.each<TrainingMode>(['async', 'sync'])(
  '%s mode, 3 shards, two headless workers over real sockets',
  (mode) => {
    it(`trains cnn to test accuracy >= ${TARGET_ACCURACY} within ${EXAMPLE_BUDGET} examples`, async () => {
      await initNodeTf('wasm');
      opened.hub = await startTestHub({
        mode,
        shards: 3,
        model: 'cnn',
        evalIntervalMs: 2_000,
        evalExamples: 10_000,
      });
      const running = opened.hub;
      for (let i = 0; i < WORKERS; i++) opened.clients.push(await connectClient(running, 'wasm'));
      const acknowledgedSteps = new Set<number>();
      const workers = opened.clients.map(
        (client) =>
          new GradientWorker({
            client,
            batchSize: BATCH,
            // The budget split between the workers: they cannot see more than EXAMPLE_BUDGET examples.
            maxSteps: Math.floor(EXAMPLE_BUDGET / BATCH / WORKERS),
            onStep: (report) => acknowledgedSteps.add(report.globalStep),
          }),
      );
      // Stops as soon as two evaluations in a row within the budget reach the target.
      const { best, reached, summaries } = await trainUntilTarget(running.hub, workers, TARGET_ACCURACY);
      console.log(`${mode}: test accuracy ${best.accuracy.toFixed(4)} after ${best.examplesSeen} examples`);
      // Held for two evaluations in a row (trainUntilTarget's default), within the budget.
      expect(reached).toBe(true);
      expect(best.examplesSeen).toBeLessThanOrEqual(EXAMPLE_BUDGET);
      expect(best.accuracy).toBeGreaterThanOrEqual(TARGET_ACCURACY);

      // The hub's counters agree with what the workers had accepted.
      const status = await running.hub.status();
      const accepted = summaries.reduce((n, s) => n + s.steps, 0);
      const examples = summaries.reduce((n, s) => n + s.examples, 0);
      expect(status.pushesAccepted).toBe(accepted);
      expect(status.examplesSeen).toBe(examples);
      if (mode === 'async') {
        expect(status.globalStep).toBe(accepted);
      } else {
        // Each round's step is acknowledged to every gradient it averaged, so distinct acks = rounds.
        expect(status.globalStep).toBe(acknowledgedSteps.size);
        expect(status.globalStep).toBeLessThanOrEqual(accepted);
        expect(status.globalStep).toBeGreaterThanOrEqual(accepted / WORKERS);
      }
      expect(status.shards.every((s) => s.version === status.globalStep)).toBe(true);
    }, 240_000);
  },
);
