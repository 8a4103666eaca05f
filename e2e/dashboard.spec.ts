import { mkdirSync } from 'node:fs';
import type { Browser, Page, TestInfo } from '@playwright/test';
import { io } from 'socket.io-client';
import type { DashboardTestApi } from '../client/dashboard/testApi.js';
import { HubClient, HubRequestError } from '../shared/HubClient.js';
import { simulateVolunteers } from '../server/testing/simulatedVolunteers.js';
import { testGradient } from '../server/testing/testHub.js';
import { expect, hubStatus, SCREENSHOTS_DIR, test } from './fixtures.js';

// The dashboard at `/`: every panel live with two training tabs (1, 4), a viewer that arrives mid-run
// (3), live updates while 50 simulated workers push (2; its long tasks are logged: their length is
// this machine's), and refused pushes listed by reason (5).

const LAPTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

interface DashboardTab {
  readonly page: Page;
  /** Console errors and uncaught exceptions, as they happened. */
  readonly errors: string[];
  /** Calls `window.__dashboard[method]()` in the page. */
  api<K extends keyof DashboardTestApi>(method: K): Promise<ReturnType<DashboardTestApi[K]>>;
  screenshot(name: string): Promise<void>;
}

declare global {
  interface Window {
    __longTasks?: { start: number; duration: number }[];
  }
}

/** Opens `/` in a context of its own and waits for the hub's history to be on the page. */
async function openDashboard(
  browser: Browser,
  testInfo: TestInfo,
  hubUrl: string,
  viewport: { width: number; height: number },
  options: { watchLongTasks?: boolean } = {},
): Promise<DashboardTab> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  if (options.watchLongTasks) {
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          window.__longTasks!.push({ start: entry.startTime, duration: entry.duration });
        }
      }).observe({ type: 'longtask', buffered: true });
    });
  }
  await page.goto(`${hubUrl}/`);
  await page.waitForFunction(() => (window.__dashboard?.history().points ?? 0) > 0);
  return {
    page,
    errors,
    api: (method) =>
      page.evaluate((m) => (window.__dashboard as any)[m](), method) as Promise<
        ReturnType<DashboardTestApi[typeof method]>
      >,
    async screenshot(name) {
      mkdirSync(SCREENSHOTS_DIR, { recursive: true });
      const path = `${SCREENSHOTS_DIR}${name}.png`;
      await page.screenshot({ path, fullPage: true });
      await testInfo.attach(name, { path, contentType: 'image/png' });
    },
  };
}

async function expectEveryPanelLive(tab: DashboardTab): Promise<void> {
  await expect
    .poll(async () => Object.entries(await tab.api('panels')).filter(([, ready]) => !ready), {
      timeout: 60_000,
    })
    .toEqual([]);
  const panels = await tab.api('panels');
  expect(Object.keys(panels).length).toBeGreaterThanOrEqual(12);
}

test('the dashboard shows a live run of two worker tabs; a late viewer gets the history at once', async ({
  browser,
  startHub,
  openWorker,
}, testInfo) => {
  const hub = await startHub({ mode: 'async', model: 'cnn', evalIntervalMs: 2_000, evalExamples: 2_000 });
  const dashboard = await openDashboard(browser, testInfo, hub.url, LAPTOP);
  await openWorker(hub.url, { backend: 'wasm' });
  await openWorker(hub.url, { backend: 'wasm' });

  // Two workers listed with their backend, in the test API and in the table.
  await expect.poll(() => dashboard.api('workers'), { timeout: 60_000 }).toHaveLength(2);
  for (const worker of await dashboard.api('workers')) expect(worker.backend).toBe('wasm');
  const rows = dashboard.page.locator('[data-testid="volunteers"] tbody tr');
  await expect(rows).toHaveCount(2);
  for (const row of await rows.all()) await expect(row).toContainText('wasm');

  // The global step shown increases.
  const step = await dashboard.api('globalStep');
  await expect.poll(() => dashboard.api('globalStep'), { timeout: 30_000 }).toBeGreaterThan(step);
  await expect
    .poll(async () =>
      Number(
        (await dashboard.page.getByTestId('global-step').locator('.value').textContent())?.replace(/,/g, ''),
      ),
    )
    .toBeGreaterThan(step);

  // Every panel shows live data; the filter and prediction grids are drawn.
  await expectEveryPanelLive(dashboard);
  await expect
    .poll(() => dashboard.api('imagesDrawn'))
    .toMatchObject({ filters: 8, digits: 32, predictions: 32 });
  const early = await dashboard.api('testAccuracy');
  await dashboard.screenshot('dashboard-early');
  console.log(`  early: step ${await dashboard.api('globalStep')}, test accuracy ${early}`);

  // Train on until the model is good; the curves keep up.
  await expect
    .poll(() => dashboard.api('testAccuracy'), { timeout: 180_000, intervals: [1_000] })
    .toBeGreaterThan(0.9);
  // The other x axis (time) draws too.
  await dashboard.page.getByRole('button', { name: 'time', exact: true }).click();
  await dashboard.page.getByRole('button', { name: 'global step', exact: true }).click();
  await expect
    .poll(() => dashboard.api('imagesDrawn'))
    .toMatchObject({ filters: 8, digits: 32, predictions: 32 });
  await expectEveryPanelLive(dashboard);
  await dashboard.screenshot('dashboard-trained');
  console.log(
    `  trained: step ${await dashboard.api('globalStep')}, test accuracy ${await dashboard.api('testAccuracy')}, ` +
      `${(await dashboard.api('imagesDrawn')).wrong} of 32 sample digits wrong`,
  );

  // (3) A viewer that arrives mid-run (the run goes on; this one is a phone) has the whole history as
  // soon as it is connected, before the next update, and draws it: from the run's start, at least
  // every point the first viewer has gathered since it opened (this run is far shorter than the 600
  // points after which the hub halves its history). `elapsed`: seconds of run so far, on the hub's
  // clock, as the first viewer last heard it.
  const seen = await dashboard.api('history');
  const elapsed = seen.last!.t;
  const openedAt = Date.now();
  const late = await openDashboard(browser, testInfo, hub.url, PHONE);
  const history = await late.api('history');
  console.log(
    `  late viewer: ${history.points} points after ${elapsed.toFixed(0)} s of run, ${Date.now() - openedAt} ms to open`,
  );
  expect(history.updates).toBeLessThanOrEqual(1);
  expect(history.first).toMatchObject({ globalStep: 0 });
  expect(history.points).toBeGreaterThanOrEqual(seen.points);
  expect(history.last!.globalStep).toBeGreaterThanOrEqual(seen.last!.globalStep);
  await expectEveryPanelLive(late);
  await late.screenshot('dashboard-phone');

  expect(dashboard.errors).toEqual([]);
  expect(late.errors).toEqual([]);
});

test('with 50 simulated workers pushing, the dashboard keeps taking updates and lists them all', async ({
  browser,
  startHub,
}, testInfo) => {
  // Simulated workers push random gradients by hand: no backend to check.
  const hub = await startHub({ mode: 'async', model: 'cnn', knownAnswer: false });
  const workers = await simulateVolunteers(hub.url, 50, 'test process');
  try {
    const dashboard = await openDashboard(browser, testInfo, hub.url, LAPTOP, { watchLongTasks: true });
    await expect.poll(async () => (await dashboard.api('workers')).length, { timeout: 30_000 }).toBe(50);
    // Measure the steady state: from here on the page only takes updates.
    const from = await dashboard.page.evaluate(() => performance.now());
    const { updates: before } = await dashboard.api('history');
    const stepBefore = await dashboard.api('globalStep');
    await dashboard.page.waitForTimeout(12_000);
    const { updates: after } = await dashboard.api('history');
    const tasks = await dashboard.page.evaluate((t) => window.__longTasks!.filter((e) => e.start >= t), from);
    const all = await dashboard.page.evaluate(() => window.__longTasks!);
    const longest = Math.max(0, ...tasks.map((t) => t.duration));
    console.log(
      `  ${after - before} updates in 12 s, step ${stepBefore} -> ${await dashboard.api('globalStep')}; ` +
        `long tasks while updating: ${tasks.length} (longest ${longest.toFixed(0)} ms); ` +
        `during load: ${all.length - tasks.length} (longest ${Math.max(0, ...all.map((t) => t.duration)).toFixed(0)} ms)`,
    );
    expect(after).toBeGreaterThan(before);
    expect(await dashboard.api('globalStep')).toBeGreaterThan(stepBefore);
    await expect(dashboard.page.locator('[data-testid="volunteers"] tbody tr')).toHaveCount(50);
    await dashboard.screenshot('dashboard-50-workers');
    expect(dashboard.errors).toEqual([]);
  } finally {
    await workers.stop();
    console.log(`  simulated workers: ${workers.pushes()} pushes accepted, ${workers.refused()} refused`);
    // Refusals by name are the hub's to make; anything else (a lost ack, a closed socket) is a failure.
    expect(workers.failure()).toBeUndefined();
  }
});

/** The code a push was refused with, or 'accepted'. */
async function outcomeOf(push: Promise<unknown>): Promise<string> {
  try {
    await push;
    return 'accepted';
  } catch (error) {
    if (error instanceof HubRequestError) return error.code;
    throw error;
  }
}

/** Waits for the dashboard's next update (the hub sends one about every second). */
async function nextUpdate(tab: DashboardTab): Promise<void> {
  const { updates } = await tab.api('history');
  await expect.poll(async () => (await tab.api('history')).updates).toBeGreaterThan(updates);
}

test('the dashboard lists refused messages by reason, with counts, meanings and a rate over time', async ({
  browser,
  startHub,
}, testInfo) => {
  // Its clients push by hand: no backend to check.
  const hub = await startHub({ mode: 'async', model: 'cnn', maxStaleness: 2, knownAnswer: false });
  const dashboard = await openDashboard(browser, testInfo, hub.url, LAPTOP);
  const panel = dashboard.page.locator('[data-panel="refusals"]');
  await expect(panel).toHaveAttribute('data-ready', 'true');
  await expect(panel).toContainText('No refusals.');
  // A phone watches too, from the start, so its rate chart sees the refusals come.
  const phone = await openDashboard(browser, testInfo, hub.url, PHONE);

  const connect = (device: string) =>
    HubClient.connect({ url: hub.url, backend: 'simulated', device, ackTimeoutMs: 20_000 });
  const fresh = await connect('pulls before every push');
  const laggard = await connect('pushes on old weights');
  // A raw socket.io client that never says hello; connected where it is used.
  const raw = io(hub.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
  try {
    const gradient = testGradient(fresh.config.params, 1).map((v) => v * 1e-3);
    const push = (client: HubClient, versions: number[], g = gradient) =>
      outcomeOf(client.push({ versions, examples: 64, loss: 2.3, gradient: g }));

    // TOO_STALE x3: the laggard's weights are 3 updates old when the limit is 2.
    const old = await laggard.pull();
    for (let i = 0; i < 3; i++) expect(await push(fresh, (await fresh.pull()).versions)).toBe('accepted');
    for (let i = 0; i < 3; i++) expect(await push(laggard, old.versions)).toBe('TOO_STALE');
    await nextUpdate(dashboard);

    // NON_FINITE x2 and BAD_LENGTH x1 a second later, so the chart has lines that differ.
    const nan = gradient.slice();
    nan[7] = NaN;
    const { versions } = await laggard.pull();
    for (let i = 0; i < 2; i++) expect(await push(laggard, versions, nan)).toBe('NON_FINITE');
    expect(await push(fresh, versions, gradient.subarray(1))).toBe('BAD_LENGTH');
    await nextUpdate(dashboard);

    // NOT_REGISTERED x1: a raw socket that pulls before its hello (no worker to charge it to).
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', resolve);
      raw.once('connect_error', reject);
      raw.connect();
    });
    expect(await raw.timeout(5_000).emitWithAck('pull', {})).toMatchObject({
      ok: false,
      error: { code: 'NOT_REGISTERED' },
    });

    const expected = { TOO_STALE: 3, NON_FINITE: 2, BAD_LENGTH: 1, NOT_REGISTERED: 1 };
    expect((await hubStatus(hub)).refusals).toEqual(expected);

    // Each code with its count and meaning, most frequent first; the title has the total.
    const table = dashboard.page.getByTestId('refusals');
    await expect
      .poll(() =>
        table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-code'))),
      )
      .toEqual(['TOO_STALE', 'NON_FINITE', 'BAD_LENGTH', 'NOT_REGISTERED']);
    for (const [code, count] of Object.entries(expected)) {
      await expect(table.locator(`tr[data-code="${code}"] .count`)).toHaveText(String(count));
    }
    await expect(table.locator('tr[data-code="TOO_STALE"]')).toContainText('--max-staleness');
    await expect(table.locator('tr[data-code="TOO_STALE"]')).toContainText('training rule');
    await expect(table.locator('tr[data-code="NON_FINITE"]')).toContainText('NaN or Infinity');
    await expect(table.locator('tr[data-code="NON_FINITE"]')).toContainText('bad client');
    await expect(panel.getByRole('heading')).toHaveText('Refused messages by reason (7)');
    // The per-worker counts agree (the raw socket never registered, so it is in no row).
    const refusedOf = (client: HubClient) =>
      dashboard.page.locator(`[data-testid="volunteers"] tr[data-worker="${client.workerId}"] td.refused`);
    await expect(refusedOf(laggard)).toHaveText('5');
    await expect(refusedOf(fresh)).toHaveText('1');

    // Refusals per second over time, drawn once two updates have been seen.
    await nextUpdate(dashboard);
    await expect(panel.getByRole('img', { name: /Refused messages per second/ })).toBeVisible();
    expect(await panel.locator('canvas').evaluate((c: HTMLCanvasElement) => c.width)).toBeGreaterThan(0);
    await dashboard.screenshot('dashboard-refusals');

    // On a phone the panel fits the screen's width.
    const phonePanel = phone.page.locator('[data-panel="refusals"]');
    await expect(phonePanel.locator('tr[data-code="NOT_REGISTERED"] .count')).toHaveText('1');
    await expect(phonePanel.getByRole('img', { name: /Refused messages per second/ })).toBeVisible();
    await phonePanel.scrollIntoViewIfNeeded();
    const box = await phonePanel.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      PHONE.width,
    );
    mkdirSync(SCREENSHOTS_DIR, { recursive: true });
    await phonePanel.screenshot({ path: `${SCREENSHOTS_DIR}dashboard-refusals-phone.png` });

    expect(dashboard.errors).toEqual([]);
    expect(phone.errors).toEqual([]);
  } finally {
    raw.disconnect();
    fresh.close();
    laggard.close();
  }
});
