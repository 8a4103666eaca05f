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

test('sync: a round does not wait for a hung tab past its deadline; with the tab closed, rounds close on the gradient alone', async ({
  startHub,
  openWorker,
}) => {
  const roundTimeoutMs = 3_000;
  const hub = await startHub({ mode: 'sync', model: 'cnn', roundTimeoutMs });
  const a = await openWorker(hub.url, { backend: 'wasm' });
  const b = await openWorker(hub.url, { backend: 'wasm' });
  await waitForSteps(a, 5);
  const bView = await waitForSteps(b, 5);
  // Rounds the hub recorded (it runs in this process: one clock), and when each opened.
  const rounds = () => hub.hub.coordinator.status().recentRounds;
  const openedAt = (r: { closedAt: number; durationMs: number }) => r.closedAt - r.durationMs;

  // Tab B hangs (its JavaScript busy for 10 s): it stays connected, so every round counts on its
  // gradient, and each must close at its deadline with A's alone.
  const hangMs = 10_000;
  const hangStarted = Date.now();
  // The hang ends no earlier than this: a round closed by then closed without anything B sent after.
  const hangEnded = hangStarted + hangMs;
  await b.page.evaluate((ms) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  }, hangMs);
  const closedWhileHung = rounds().filter((r) => r.closedAt >= hangStarted && r.closedAt <= hangEnded);
  console.log(
    `  rounds closed while B hung: ${closedWhileHung.length}: ` +
      closedWhileHung.map((r) => `${r.gradients} of ${r.participants} in ${r.durationMs} ms`).join(', '),
  );
  expect(closedWhileHung.length).toBeGreaterThanOrEqual(2);
  // Those opened during the hang waited for both tabs and closed with A's gradient alone.
  const openedWhileHung = closedWhileHung.filter((r) => openedAt(r) >= hangStarted);
  expect(openedWhileHung.length).toBeGreaterThanOrEqual(1);
  for (const round of openedWhileHung) expect(round).toMatchObject({ participants: 2, gradients: 1 });

  const closedAt = Date.now();
  await b.close();
  await expect
    .poll(async () => (await hubStatus(hub)).workers.map((w) => w.id), { timeout: 10_000, intervals: [100] })
    .not.toContain(bView.workerId);
  console.log(`  closed tab dropped after ${Date.now() - closedAt} ms`);
  // With B gone, each round waits for A alone and closes as soon as its gradient is in (complete,
  // not at a deadline).
  const droppedAt = Date.now();
  const roundsSinceDropped = () => rounds().filter((r) => openedAt(r) >= droppedAt);
  await expect.poll(() => roundsSinceDropped().length).toBeGreaterThanOrEqual(5);
  for (const round of roundsSinceDropped()) expect(round).toMatchObject({ participants: 1, gradients: 1 });
  console.log(`  ${describeTab(await a.status())}`);
});
