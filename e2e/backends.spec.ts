import { describeTab, expect, hubStatus, test, waitForSteps } from './fixtures.js';

// Acceptance (3): forced backends get what they asked for and push accepted gradients. WebGPU here is
// SwiftShader: ~15 s of shader compiles, then seconds per step, so these tests take only a few steps.

test('?backend=webgpu gets a WebGPU adapter, pushes 3 gradients, and falls back when the device is lost', async ({
  startHub,
  openWorker,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const tab = await openWorker(hub.url, { backend: 'webgpu' });

  const view = await waitForSteps(tab, 3, 120_000);
  console.log(`  ${describeTab(view)}`);
  expect(view.backend).toBe('webgpu');
  expect(view.adapter).not.toBeNull();
  expect(view.adapter!.vendor.length).toBeGreaterThan(0);
  expect(Number.isFinite(view.loss)).toBe(true);
  // Only asynchronous reads on WebGPU, and every step's tensors released.
  expect(view.syncReadsOnWebGpu).toBe(0);
  expect(new Set(view.tensorsAfterStep.slice(-2)).size).toBe(1);
  const [worker] = (await hubStatus(hub)).workers;
  expect(worker.backend).toBe('webgpu');
  expect(worker.steps).toBeGreaterThanOrEqual(3);
  await expect(tab.page.getByTestId('adapter')).toContainText(view.adapter!.vendor);
  await tab.screenshot('worker-webgpu');

  // A GPU that goes away mid-run: the tab says so, picks the next backend (by a probe: it was forced,
  // nothing was measured) and keeps training.
  expect(await tab.page.evaluate(() => window.__worker!.loseDevice())).toBe(true);
  await expect
    .poll(async () => (await tab.status()).backend, { timeout: 90_000, intervals: [500] })
    .toBe('wasm');
  const before = (await tab.status()).steps;
  const after = await waitForSteps(tab, before + 3, 60_000);
  console.log(`  ${describeTab(after)}`);
  expect(after.failedBackends).toContain('webgpu');
  expect(after.events.map((e) => e.text).join('\n')).toMatch(/fell back from webgpu to wasm/);
  await expect.poll(async () => (await hubStatus(hub)).workers.map((w) => w.backend)).toEqual(['wasm']);
  await tab.screenshot('worker-webgpu-lost-fallback');
});

test("a backend whose gradients go wrong fails the hub's known-answer check and the tab falls back", async ({
  startHub,
  openWorker,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const tab = await openWorker(hub.url, { backend: 'webgl' });
  await waitForSteps(tab, 2, 90_000);
  expect((await tab.status()).events.map((e) => e.text).join('\n')).toMatch(
    /webgl passed the hub's known-answer check/,
  );
  // A driver fault from now on: zero filter gradients, every value finite. Rejoining as a newcomer
  // (no identity kept) takes the check again, on the broken backend.
  expect(await tab.page.evaluate(() => window.__worker!.breakGradients('webgl'))).toBe(true);
  await tab.page.evaluate(() => {
    window.__worker!.forgetIdentity();
    window.__worker!.pause();
    window.__worker!.resume();
  });
  await expect
    .poll(async () => (await tab.status()).backend, { timeout: 90_000, intervals: [500] })
    .toBe('wasm');
  const before = (await tab.status()).steps;
  const after = await waitForSteps(tab, before + 2, 60_000);
  const log = after.events.map((e) => e.text).join('\n');
  expect(log).toMatch(/webgl failed: the hub's known-answer check: .*KNOWN_ANSWER_FAILED/);
  expect(log).toMatch(/wasm passed the hub's known-answer check/);
  expect(after.failedBackends).toContain('webgl');
  const status = await hubStatus(hub);
  expect(status.refusals.KNOWN_ANSWER_FAILED).toBe(1);
  expect(status.workers.map((w) => w.backend)).toEqual(['wasm']);
  await tab.screenshot('worker-known-answer-fallback');
});

test('?backend=webgl pushes 3 accepted gradients with finite loss', async ({ startHub, openWorker }) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const tab = await openWorker(hub.url, { backend: 'webgl' });
  const view = await waitForSteps(tab, 3, 90_000);
  console.log(`  ${describeTab(view)}`);
  expect(view.backend).toBe('webgl');
  expect(view.backendDetail).toMatch(/^webgl/);
  expect(Number.isFinite(view.loss)).toBe(true);
  const [worker] = (await hubStatus(hub)).workers;
  expect(worker.backend).toBe('webgl');
  expect(worker.steps).toBeGreaterThanOrEqual(3);
  await tab.screenshot('worker-webgl');
});
