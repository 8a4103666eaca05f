import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { GradientWorker } from '../../shared/GradientWorker.js';
import type { RunningHub } from '../startHub.js';
import { emptyTally, HostileClient, type HostileTally } from '../testing/HostileClient.js';
import { checksums, connectClient, startTestHub } from '../testing/testHub.js';
import { closedAfterEach } from '../testing/closedAfterEach.js';
import { MNIST_TRAIN_COUNT } from '../data/mnist.js';
import { initNodeTf } from '../tf/initNodeTf.js';

/**
 * Acceptance 1 of the untrusted-volunteers step: at least 10,000 malformed or hostile messages over
 * real sockets while two honest workers train. The hub stays up, every refusal carries a named code,
 * the honest workers reach their accuracy target, and no refused message changes a weight.
 */
const HOSTILE_MESSAGES = 10_000;
const HOSTILE_CLIENTS = 3;
const QUIET_MESSAGES = 1_500;
const TARGET_ACCURACY = 0.9;
const EXAMPLE_BUDGET = 60_000;
const BATCH = 64;
/** Heap the hub may keep after the flood (a leak per message would be ~10,000 x its size). */
const HEAP_GROWTH_LIMIT_BYTES = 48 * 1024 * 1024;

const opened = closedAfterEach();

/** A full garbage collection, for a heap figure that is not just garbage not yet collected. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/**
 * Watches the shards while everything runs: the same versions must always come with the same
 * checksums. Every accepted update advances a version, so a weight changed by a refused message would
 * show as one version with two checksums.
 */
function watchChecksums(running: RunningHub): { stop(): Promise<string[]> } {
  const seen = new Map<string, string>();
  const conflicts: string[] = [];
  const timer = setInterval(async () => {
    const { shards } = await running.hub.status();
    const key = shards.map((s) => s.version).join(',');
    const value = shards.map((s) => s.checksum).join(',');
    const before = seen.get(key);
    if (before === undefined) seen.set(key, value);
    else if (before !== value) conflicts.push(`versions ${key}: ${before} then ${value}`);
  }, 50);
  return {
    async stop() {
      clearInterval(timer);
      return conflicts;
    },
  };
}

function expectOnlyNamedRefusals(tally: HostileTally): void {
  const known = new Set<string>(Object.values(ErrorCode));
  for (const code of tally.refused.keys()) expect(known, `refusal code ${code}`).toContain(code);
  expect(tally.refused.get(ErrorCode.Internal) ?? 0).toBe(0);
  // Every message was answered, or was in flight when the hub closed its connection, and the hub
  // said why before it closed one.
  expect(tally.lost).toBe(0);
  expect(tally.ignored).toBe(0);
  expect(tally.closedByHub.get('none') ?? 0).toBe(0);
}

it(`${HOSTILE_MESSAGES} hostile messages while two honest workers train: named refusals, weights untouched, target met, heap bounded`, async () => {
  await initNodeTf('wasm');
  opened.hub = await startTestHub({
    model: 'cnn',
    shards: 2,
    // Huge norms are refused from the first push on (more than twice --clip-norm until the norm
    // baseline exists; honest cnn gradients stay far below), and cost their senders trust.
    clipNorm: 20,
    trust: true,
    // The fuzz opens a hundred connections from 127.0.0.1 that get closed for strikes; the ban
    // (tested in limits.test.ts) would stop it after three. The honest workers stay connected anyway.
    banAfter: 0,
    // A quarter of accepted pushes recomputed: plausible but wrong ones cost their senders trust.
    spotCheck: 0.25,
    evalIntervalMs: 2_000,
    evalExamples: 2_000,
  });
  const running = opened.hub;
  const context = {
    params: running.hub.layout.totalLength,
    shards: running.hub.shardRanges.length,
    units: Math.ceil(MNIST_TRAIN_COUNT / running.hub.options.unitSize),
  };

  for (let i = 0; i < 2; i++) opened.clients.push(await connectClient(running, 'wasm'));
  const honest = opened.clients.map(
    (client) => new GradientWorker({ client, batchSize: BATCH, maxSteps: EXAMPLE_BUDGET / BATCH / 2 }),
  );
  const training = honest.map((worker) => worker.run());
  await expect
    .poll(async () => (await running.hub.status()).globalStep, { timeout: 30_000 })
    .toBeGreaterThan(10);

  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const watcher = watchChecksums(running);
  const tally = emptyTally();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: HOSTILE_CLIENTS }, (_, i) =>
      new HostileClient(
        running.url,
        context,
        1 + i,
        { hugeNorms: true, floods: true, lies: true },
        tally,
      ).run(HOSTILE_MESSAGES),
    ),
  );
  console.log(
    `fuzz: ${tally.sent} messages in ${((Date.now() - started) / 1000).toFixed(1)} s over ${tally.sessions} connections; ` +
      `pushes accepted ${tally.accepted}, pulls answered ${tally.answered}, unanswered after a close ${tally.unanswered}; refused ${JSON.stringify(Object.fromEntries(tally.refused))}; ` +
      `closed by the hub ${JSON.stringify(Object.fromEntries(tally.closedByHub))}`,
  );
  expect(tally.sent).toBeGreaterThanOrEqual(HOSTILE_MESSAGES);
  expectOnlyNamedRefusals(tally);
  // The well-formed lies were each caught by name; plausible-wrong gradients by spot checks, whose
  // failures drove the liars (reconnecting under new connections, from the same address) to refusal.
  for (const code of [ErrorCode.FutureVersion, ErrorCode.TooManyExamples, ErrorCode.Untrusted]) {
    expect(tally.refused.get(code) ?? 0, code).toBeGreaterThan(0);
  }

  // The honest workers carry on to the target (or run out of their example budget and fail).
  let reached = (await running.hub.evaluateNow()).accuracy >= TARGET_ACCURACY;
  while (!reached && (await running.hub.status()).examplesSeen < EXAMPLE_BUDGET) {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    reached = (await running.hub.evaluateNow()).accuracy >= TARGET_ACCURACY;
  }
  honest.forEach((worker) => worker.stop());
  const summaries = await Promise.all(training);
  const evaluation = await running.hub.evaluateNow();
  console.log(
    `honest workers: test accuracy ${evaluation.accuracy.toFixed(4)} after ${evaluation.examplesSeen} examples`,
  );
  expect(evaluation.accuracy).toBeGreaterThanOrEqual(TARGET_ACCURACY);
  // No honest push failed a spot check.
  for (const worker of (await running.hub.status()).workers) expect(worker.checks.failed).toBe(0);

  // Every update the shards applied is an accepted push (the honest ones, and any hostile one the
  // screen let through: none so far).
  const status = await running.hub.status();
  const honestSteps = summaries.reduce((n, s) => n + s.steps, 0);
  expect(status.pushesAccepted).toBe(honestSteps + tally.accepted);
  for (const shard of status.shards) expect(shard.version).toBe(status.pushesAccepted);
  expect(await watcher.stop()).toEqual([]);

  // With the honest workers stopped, more of the same (but nothing well formed) changes no byte.
  const quiet = emptyTally();
  const before = await checksums(running);
  await new HostileClient(running.url, context, 99, { hugeNorms: false, floods: true }, quiet).run(
    QUIET_MESSAGES,
  );
  expect(quiet.accepted).toBe(0);
  expectOnlyNamedRefusals(quiet);
  expect(await checksums(running)).toEqual(before);

  // The hostile connections are gone and forgotten; the heap holds no trace of 10,000 messages.
  await expect.poll(async () => (await running.hub.status()).workers.length).toBe(2);
  collectGarbage();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  console.log(`heap growth over the fuzz: ${(growth / 1024 / 1024).toFixed(1)} MB`);
  expect(growth).toBeLessThan(HEAP_GROWTH_LIMIT_BYTES);
}, 600_000);
