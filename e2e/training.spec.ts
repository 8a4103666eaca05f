import { describeTab, expect, hubStatus, test, trainUntilAccuracy } from './fixtures.js';

// Acceptance (1) and (2): real tabs, real MNIST, the hub's full test set (10,000 examples).

test('async: two auto tabs pick the fastest backend their probe measured and train cnn to 0.95 within 60,000 examples', async ({
  startHub,
  openWorker,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn', evalExamples: 10_000 });
  const tabs = [await openWorker(hub.url), await openWorker(hub.url)];

  // The rule, not this machine's answer: WebGPU on a real adapter without a probe; otherwise (no
  // WebGPU, or a fallback adapter such as SwiftShader here) the fastest backend the probe measured.
  await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 90_000 }).toBe(2);
  const status = await hubStatus(hub);
  for (const tab of tabs) {
    const view = await tab.status();
    const measured = (view.probe ?? []).filter((f) => f.outcome === 'measured');
    if (measured.length === 0) {
      expect(view.backend).toBe('webgpu');
      expect(view.adapter?.isFallbackAdapter).toBe(false);
    } else {
      const fastest = Math.min(...measured.map((f) => f.msPerStep!));
      expect(measured.find((f) => f.backend === view.backend)?.msPerStep).toBe(fastest);
    }
    // The hub lists the tab with the backend it chose; the probe's figures travel in the hello's device line.
    const atHub = status.workers.find((w) => w.id === view.workerId);
    expect(atHub?.backend).toBe(view.backend);
    if (measured.length > 0)
      expect(atHub?.device).toMatch(new RegExp(`probe ms/step: .*${view.backend} \\d+`));
    console.log(`  ${view.backend}; probe: ${JSON.stringify(view.probe)}`);
  }

  const run = await trainUntilAccuracy(hub, { target: 0.95, maxExamples: 60_000, everyExamples: 4_000 });
  console.log(
    `  reached ${run.reached.accuracy.toFixed(4)} after ${run.reached.examplesSeen} examples in ${run.seconds.toFixed(0)} s`,
  );
  expect(run.reached.accuracy).toBeGreaterThanOrEqual(0.95);
  expect(run.reached.examplesSeen).toBeLessThanOrEqual(60_000);

  const views = await Promise.all(tabs.map((tab) => tab.status()));
  for (const view of views) {
    console.log(`  ${describeTab(view)}`);
    expect(view.phase).toBe('training');
    expect(view.steps).toBeGreaterThan(10);
    // Tensors are released every step: the count after each step stays put.
    const recent = view.tensorsAfterStep.slice(-10);
    expect(new Set(recent).size, `tensors after the last steps: ${recent.join(',')}`).toBe(1);
  }
  await tabs[0].screenshot('worker-wasm');
});

test('sync: two tabs train cnn to 0.92 within 60,000 examples', async ({ startHub, openWorker }) => {
  const hub = await startHub({ mode: 'sync', model: 'cnn', evalExamples: 10_000, roundTimeoutMs: 3_000 });
  const tabs = [
    await openWorker(hub.url, { backend: 'wasm' }),
    await openWorker(hub.url, { backend: 'wasm' }),
  ];
  await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 60_000 }).toBe(2);

  const run = await trainUntilAccuracy(hub, { target: 0.92, maxExamples: 60_000, everyExamples: 4_000 });
  console.log(
    `  reached ${run.reached.accuracy.toFixed(4)} after ${run.reached.examplesSeen} examples ` +
      `(${run.reached.globalStep} rounds) in ${run.seconds.toFixed(0)} s`,
  );
  expect(run.reached.accuracy).toBeGreaterThanOrEqual(0.92);
  expect(run.reached.examplesSeen).toBeLessThanOrEqual(60_000);
  for (const view of await Promise.all(tabs.map((tab) => tab.status()))) {
    console.log(`  ${describeTab(view)}`);
    expect(view.run?.mode).toBe('sync');
    expect(view.steps).toBeGreaterThan(10);
  }
});
