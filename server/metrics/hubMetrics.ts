import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { HubStatus } from '../hubStatus.js';

/**
 * Prometheus metrics with the same figures as /api/status. Gauges read the status when scraped, so
 * the hot path never touches them. (Each gauge reads it anew; a scrape is rare and the status cheap.)
 * One registry per hub (tests run several hubs in one process).
 */
export function createHubMetrics(status: () => Promise<HubStatus>): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'trainer_process_' });
  const gauge = (name: string, help: string, read: (s: HubStatus) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const value = read(await status());
        if (value !== null) this.set(value);
      },
    });
  gauge(
    'trainer_global_step',
    'Updates applied to the model (async: pushes; sync and local: rounds).',
    (s) => s.globalStep,
  );
  gauge('trainer_examples_seen', 'Training examples behind the applied updates.', (s) => s.examplesSeen);
  gauge('trainer_epoch', 'Passes over the training set (fractional).', (s) => s.epoch);
  gauge('trainer_train_loss', 'Smoothed training loss of pushed batches.', (s) => s.trainLoss);
  gauge('trainer_test_accuracy', 'Test accuracy at the last evaluation.', (s) => s.testAccuracy);
  gauge('trainer_test_loss', 'Test loss at the last evaluation.', (s) => s.testLoss);
  gauge('trainer_examples_per_second', 'Training examples per second, all workers.', (s) => s.examplesPerSec);
  gauge('trainer_workers', 'Connected gradient workers.', (s) => s.workers.length);
  gauge(
    'trainer_local_rounds_closed',
    'Local rounds closed since the hub started (each applied one outer step).',
    (s) => s.rounds.closed.local,
  );
  // Read from the last closed round: after a switch to sync mode the gauges keep the last local round's.
  gauge(
    'trainer_local_change_norm',
    "L2 norm of the last local round's combined weight change, as the outer optimizer applied it.",
    (s) => (s.rounds.last?.kind === 'local' ? (s.rounds.last.changeNorm ?? null) : null),
  );
  gauge('trainer_local_round_steps', "Mean inner steps behind the last local round's weight changes.", (s) =>
    s.rounds.last?.kind === 'local' ? (s.rounds.last.localSteps ?? null) : null,
  );
  new Gauge({
    name: 'trainer_shard_version',
    help: 'Updates applied to each parameter shard.',
    labelNames: ['shard'],
    registers: [registry],
    async collect() {
      for (const shard of (await status()).shards) this.set({ shard: String(shard.index) }, shard.version);
    },
  });
  new Gauge({
    name: 'trainer_refusals',
    help: 'Refused messages since the hub started, by error code.',
    labelNames: ['code'],
    registers: [registry],
    async collect() {
      for (const [code, count] of Object.entries((await status()).refusals)) this.set({ code }, count);
    },
  });
  new Gauge({
    name: 'trainer_worker_examples_per_second',
    help: 'Training examples per second of each worker.',
    labelNames: ['worker', 'backend'],
    registers: [registry],
    async collect() {
      const { workers } = await status();
      this.reset();
      for (const w of workers) this.set({ worker: w.id, backend: w.backend }, w.examplesPerSec);
    },
  });
  new Gauge({
    name: 'trainer_worker_change_norm',
    help: "Local mode: L2 norm of each worker's last accepted weight change (workers with one).",
    labelNames: ['worker', 'backend'],
    registers: [registry],
    async collect() {
      const { workers } = await status();
      this.reset();
      for (const w of workers) {
        if (w.changeNorm !== null) this.set({ worker: w.id, backend: w.backend }, w.changeNorm);
      }
    },
  });
  return registry;
}
