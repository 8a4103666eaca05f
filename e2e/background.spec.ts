import { describeTab, expect, test, waitForSteps } from './fixtures.js';

// Browsers stop requestAnimationFrame in background tabs. Playwright's pages are always visible, so
// the test does to the page what a browser does to a hidden tab: visibilityState 'hidden' and no more
// animation frames. The loop must keep training (it yields with a plain task while hidden).
test('a hidden tab (no animation frames) keeps training', async ({ startHub, openWorker }) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const tab = await openWorker(hub.url, { backend: 'wasm' });
  await waitForSteps(tab, 3);
  await tab.page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    window.requestAnimationFrame = () => 0;
    document.dispatchEvent(new Event('visibilitychange'));
  });
  const hiddenAt = (await tab.status()).steps;
  const view = await waitForSteps(tab, hiddenAt + 20, 30_000);
  console.log(`  hidden: ${describeTab(view)}`);
  expect(view.phase).toBe('training');
  expect(await tab.page.evaluate(() => document.visibilityState)).toBe('hidden');
});
