import { describeTab, expect, hubStatus, test, trainUntilAccuracy } from './fixtures.js';

// Issue 13, acceptance 1: two tabs in local mode train cnn to 0.97, held for two evaluations in a row.

test('local: two wasm tabs train cnn to 0.97 (two evaluations in a row) in local rounds', async ({
  startHub,
  openWorker,
}) => {
  const hub = await startHub({ mode: 'local', model: 'cnn', evalExamples: 10_000 });
  const tabs = [
    await openWorker(hub.url, { backend: 'wasm' }),
    await openWorker(hub.url, { backend: 'wasm' }),
  ];
  await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 60_000 }).toBe(2);

  const run = await trainUntilAccuracy(hub, {
    target: 0.97,
    maxExamples: 200_000,
    everyExamples: 6_400,
    holdFor: 2,
  });
  console.log(
    `  held ${run.reached.accuracy.toFixed(4)} after ${run.reached.examplesSeen} examples ` +
      `(${run.reached.globalStep} rounds) in ${run.seconds.toFixed(0)} s`,
  );
  const last = run.evaluations.slice(-2);
  expect(last.every((e) => e.accuracy >= 0.97)).toBe(true);

  const status = await hubStatus(hub);
  expect(status.mode).toBe('local');
  for (const worker of status.workers) {
    // Each push was a weight change of several inner steps.
    expect(worker.steps).toBeGreaterThan(0);
  }
  for (const tab of tabs) {
    const view = await tab.status();
    console.log(`  ${describeTab(view)}`);
    expect(view.run?.mode).toBe('local');
    // Every push was a weight change of the run's inner steps (20 by default).
    expect(view.lastChange?.localSteps).toBe(hub.hub.options.localSteps);
    const recent = view.tensorsAfterStep.slice(-10);
    expect(new Set(recent).size, `tensors after the last steps: ${recent.join(',')}`).toBe(1);
  }
  await tabs[0].screenshot('worker-local');
});
