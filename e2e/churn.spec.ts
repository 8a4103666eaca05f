import { expect, hubStatus, test, trainUntilAccuracy, waitForSteps } from './fixtures.js';

// Volunteers come and go: a tab closed mid-round, and every tab closed then a new one opened.

test('sync: a tab closed in the middle of a round does not hold it; training reaches 0.92', async ({
  startHub,
  openWorker,
}) => {
  const roundTimeoutMs = 3_000;
  const hub = await startHub({ mode: 'sync', model: 'cnn', evalExamples: 10_000, roundTimeoutMs });
  const tabs = [];
  for (let i = 0; i < 3; i++) tabs.push(await openWorker(hub.url, { backend: 'wasm' }));
  for (const tab of tabs) await waitForSteps(tab, 3);
  expect((await hubStatus(hub)).workers).toHaveLength(3);

  // Close a tab while a round is open and waiting for it.
  await expect.poll(() => hub.hub.coordinator.status().round, { timeout: 10_000 }).not.toBeNull();
  const { globalStep: stepAtClose } = await hubStatus(hub);
  const closedAt = Date.now();
  await tabs[2].close();
  await expect
    .poll(async () => (await hubStatus(hub)).globalStep, { intervals: [50] })
    .toBeGreaterThan(stepAtClose);
  console.log(`  next round closed ${Date.now() - closedAt} ms after the tab was closed`);
  await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 10_000 }).toBe(2);

  const run = await trainUntilAccuracy(hub, { target: 0.92, maxExamples: 60_000, everyExamples: 4_000 });
  console.log(`  reached ${run.reached.accuracy.toFixed(4)} after ${run.reached.examplesSeen} examples`);
  expect(run.reached.accuracy).toBeGreaterThanOrEqual(0.92);
});

test('every tab closed: the hub idles without errors, and a new tab resumes from the same global step', async ({
  startHub,
  openWorker,
}) => {
  for (const mode of ['sync', 'async'] as const) {
    const hub = await startHub({ mode, model: 'cnn', roundTimeoutMs: 2_000 });
    const tabs = [
      await openWorker(hub.url, { backend: 'wasm' }),
      await openWorker(hub.url, { backend: 'wasm' }),
    ];
    for (const tab of tabs) await waitForSteps(tab, 5);
    for (const tab of tabs) await tab.close();
    await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 10_000 }).toBe(0);

    // Idle for longer than a round deadline: nothing moves, nothing fails.
    const idle = await hubStatus(hub);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const stillIdle = await hubStatus(hub);
    expect(stillIdle.globalStep).toBe(idle.globalStep);
    expect(stillIdle.shards.map((s) => s.checksum)).toEqual(idle.shards.map((s) => s.checksum));
    expect(stillIdle.refusals.INTERNAL ?? 0).toBe(0);
    expect(hub.hub.coordinator.status().round).toBeNull();

    const fresh = await openWorker(hub.url, { backend: 'wasm' });
    await waitForSteps(fresh, 3);
    const resumed = await hubStatus(hub);
    const view = await fresh.status(); // read after the hub's status: its steps cover every update counted there
    console.log(`  ${mode}: idle at step ${idle.globalStep}, resumed to ${resumed.globalStep}`);
    expect(resumed.globalStep).toBeGreaterThan(idle.globalStep);
    // Every update since the idle point came from the new tab: the step went on from where it stood.
    expect(view.globalStep).toBeGreaterThan(idle.globalStep);
    expect(resumed.globalStep - idle.globalStep).toBeLessThanOrEqual(view.steps);
    expect(resumed.refusals.INTERNAL ?? 0).toBe(0);
    await fresh.close();
  }
});
