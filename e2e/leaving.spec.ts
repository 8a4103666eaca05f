import { describeTab, expect, hubStatus, test, waitForSteps } from './fixtures.js';

// Acceptance (4): tabs come and go; the hub and the other tabs carry on.

test('async: a closed tab leaves the hub at once and the other keeps training; pause leaves, resume rejoins', async ({
  startHub,
  openWorker,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const a = await openWorker(hub.url, { backend: 'wasm' });
  const b = await openWorker(hub.url, { backend: 'wasm' });
  await waitForSteps(a, 5);
  const bView = await waitForSteps(b, 5);
  expect((await hubStatus(hub)).workers.map((w) => w.id).sort()).toEqual(
    [(await a.status()).workerId, bView.workerId].sort(),
  );

  const closedAt = Date.now();
  await b.close();
  await expect
    .poll(async () => (await hubStatus(hub)).workers.map((w) => w.id), { timeout: 10_000, intervals: [100] })
    .not.toContain(bView.workerId);
  console.log(`  closed tab dropped after ${Date.now() - closedAt} ms`);
  const stepsAfterClose = (await a.status()).steps;
  await waitForSteps(a, stepsAfterClose + 20, 30_000);

  // Pause (the page's button) leaves the hub; Resume joins again under a new id.
  const before = await a.status();
  await a.page.getByRole('button', { name: 'Pause' }).click();
  await expect.poll(async () => (await a.status()).phase).toBe('paused');
  await expect
    .poll(async () => (await hubStatus(hub)).workers.length, { timeout: 10_000, intervals: [100] })
    .toBe(0);
  await a.screenshot('worker-paused');
  await a.page.getByRole('button', { name: 'Resume' }).click();
  const resumed = await waitForSteps(a, (await a.status()).steps + 5, 30_000);
  console.log(`  ${describeTab(resumed)}`);
  expect(resumed.workerId).not.toBe(before.workerId);
  expect(resumed.connections).toBe(before.connections + 1);
  expect((await hubStatus(hub)).workers.map((w) => w.id)).toEqual([resumed.workerId]);
});

test('sync: a round waits for a hung tab no longer than its deadline; a closed tab is dropped', async ({
  startHub,
  openWorker,
}) => {
  const roundTimeoutMs = 3_000;
  const hub = await startHub({ mode: 'sync', model: 'cnn', roundTimeoutMs });
  const a = await openWorker(hub.url, { backend: 'wasm' });
  const b = await openWorker(hub.url, { backend: 'wasm' });
  await waitForSteps(a, 5);
  const bView = await waitForSteps(b, 5);

  // Tab B hangs (its JavaScript busy for 10 s): it stays connected, so every round counts on its
  // gradient, and each must close at its deadline with A's alone.
  const hangMs = 10_000;
  const hang = b.page.evaluate((ms) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  }, hangMs);
  const steps: { at: number; globalStep: number }[] = [];
  const started = Date.now();
  while (Date.now() - started < hangMs - 500) {
    const { globalStep } = await hubStatus(hub);
    if (steps.length === 0 || steps.at(-1)!.globalStep !== globalStep)
      steps.push({ at: Date.now(), globalStep });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await hang;
  const gaps = steps.slice(1).map((s, i) => s.at - steps[i].at);
  console.log(`  rounds closed while B hung: ${steps.length - 1}, gaps (ms): ${gaps.join(', ')}`);
  expect(steps.length - 1).toBeGreaterThanOrEqual(2);
  for (const gap of gaps) expect(gap).toBeLessThan(roundTimeoutMs + 1_500);

  const closedAt = Date.now();
  await b.close();
  await expect
    .poll(async () => (await hubStatus(hub)).workers.map((w) => w.id), { timeout: 10_000, intervals: [100] })
    .not.toContain(bView.workerId);
  console.log(`  closed tab dropped after ${Date.now() - closedAt} ms`);
  // With B gone, rounds close as soon as A's gradient arrives: many rounds well inside one deadline.
  const { globalStep } = await hubStatus(hub);
  await expect
    .poll(async () => (await hubStatus(hub)).globalStep, { timeout: roundTimeoutMs, intervals: [100] })
    .toBeGreaterThanOrEqual(globalStep + 5);
  console.log(`  ${describeTab(await a.status())}`);
});
