import { describeTab, expect, hubStatus, test, trainUntilAccuracy } from './fixtures.js';

// Acceptance (1) and (2): real tabs, real MNIST, the hub's full test set (10,000 examples).

test('async: two auto tabs pick wasm by probing and train cnn to 0.95 within 60,000 examples', async ({
  startHub,
  openWorker,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn', evalExamples: 10_000 });
  const tabs = [await openWorker(hub.url), await openWorker(hub.url)];

  // WebGPU here is SwiftShader (a fallback adapter): each tab probes and must end on wasm.
  await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 90_000 }).toBe(2);
  const status = await hubStatus(hub);
  for (const worker of status.workers) {
    expect(worker.backend).toBe('wasm');
    // The probe's figures travel to the hub in the hello's device line.
    expect(worker.device).toMatch(/probe ms\/step: .*wasm \d+/);
  }
  for (const tab of tabs) {
    const view = await tab.status();
    expect(view.backend).toBe('wasm');
    const wasm = view.probe?.find((f) => f.backend === 'wasm');
    expect(wasm?.outcome).toBe('measured');
    for (const other of view.probe ?? []) {
      if (other.backend !== 'wasm' && other.outcome === 'measured') {
        expect(other.msPerStep!).toBeGreaterThan(wasm!.msPerStep!);
      }
    }
    console.log(`  probe: ${JSON.stringify(view.probe)}`);
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
