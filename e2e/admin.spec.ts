import { mkdirSync } from 'node:fs';
import type { Browser, Page, TestInfo } from '@playwright/test';
import type { AdminRole } from '../client/dashboard/AdminLink.js';
import { HubClient } from '../shared/HubClient.js';
import type { RunningHub } from '../server/startHub.js';
import { testGradient } from '../server/testing/testHub.js';
import { expect, hubStatus, SCREENSHOTS_DIR, test } from './fixtures.js';

// Acceptance 3 in the browser: the dashboard shows the run's controls only to a page opened with the
// admin link, and they act on the hub.

const LAPTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

interface DashboardTab {
  readonly page: Page;
  readonly errors: string[];
  role(): Promise<AdminRole>;
  screenshot(name: string): Promise<void>;
}

/** Opens the dashboard at `url` (e.g. `.../#admin=...`); waits for the history and the hub's word on its role. */
async function openDashboard(
  browser: Browser,
  testInfo: TestInfo,
  url: string,
  viewport = LAPTOP,
): Promise<DashboardTab> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(
    () => (window.__dashboard?.history().points ?? 0) > 0 && window.__dashboard?.adminRole() !== 'unknown',
  );
  return {
    page,
    errors,
    role: () => page.evaluate(() => window.__dashboard!.adminRole()),
    async screenshot(name) {
      mkdirSync(SCREENSHOTS_DIR, { recursive: true });
      const path = `${SCREENSHOTS_DIR}${name}.png`;
      await page.screenshot({ path, fullPage: true });
      await testInfo.attach(name, { path, contentType: 'image/png' });
    },
  };
}

/** Pushes `steps` small gradients, so that the run has steps to lose. */
async function train(hub: RunningHub, steps: number): Promise<void> {
  const client = await HubClient.connect({ url: hub.url, backend: 'simulated', ackTimeoutMs: 20_000 });
  try {
    for (let i = 0; i < steps; i++) {
      const { versions } = await client.pull();
      const gradient = testGradient(client.config.params, i + 1).map((v) => v * 1e-3);
      await client.push({ versions, examples: 64, loss: 2.3, gradient });
    }
  } finally {
    client.close();
  }
}

const adminLink = (hub: RunningHub) => `${hub.url}/#admin=${encodeURIComponent(hub.adminToken)}`;

test('viewers see no controls; a wrong token is said to be refused; the admin link shows them', async ({
  browser,
  startHub,
}, testInfo) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });

  const viewer = await openDashboard(browser, testInfo, `${hub.url}/`);
  expect(await viewer.role()).toBe('viewer');
  await expect(viewer.page.locator('[data-panel="summary"]')).toBeVisible();
  await expect(viewer.page.locator('[data-panel="admin"]')).toHaveCount(0);
  await expect(viewer.page.getByTestId('admin-refused')).toHaveCount(0);
  await expect(viewer.page.getByRole('button', { name: /pause|checkpoint|reset/i })).toHaveCount(0);

  const wrong = await openDashboard(browser, testInfo, `${hub.url}/#admin=not-the-token`);
  expect(await wrong.role()).toBe('refused');
  await expect(wrong.page.getByTestId('admin-refused')).toContainText('refused the admin token');
  await expect(wrong.page.locator('[data-panel="admin"]')).toHaveCount(0);
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  await wrong.page.screenshot({
    path: `${SCREENSHOTS_DIR}dashboard-admin-refused.png`,
    clip: { x: 0, y: 0, width: LAPTOP.width, height: 260 },
  });
  // The refused token is forgotten: a reload is a plain viewer.
  await wrong.page.reload();
  await wrong.page.waitForFunction(() => window.__dashboard?.adminRole() === 'viewer');
  await expect(wrong.page.getByTestId('admin-refused')).toHaveCount(0);

  const admin = await openDashboard(browser, testInfo, adminLink(hub));
  expect(await admin.role()).toBe('admin');
  const panel = admin.page.locator('[data-panel="admin"]');
  await expect(panel).toHaveAttribute('data-ready', 'true');
  // The token left the address bar at once, and a reload keeps the page admin (sessionStorage).
  expect(admin.page.url()).toBe(`${hub.url}/`);
  await admin.page.reload();
  await admin.page.waitForFunction(() => window.__dashboard?.adminRole() === 'admin');
  await expect(panel).toHaveAttribute('data-ready', 'true');
  await admin.screenshot('dashboard-admin');

  expect([...viewer.errors, ...wrong.errors, ...admin.errors]).toEqual([]);
});

test('the admin panel pauses, resumes, sets the rate and the mode, checkpoints and resets the run', async ({
  browser,
  startHub,
}, testInfo) => {
  // train() pushes by hand: no backend to check.
  const hub = await startHub({
    mode: 'async',
    model: 'cnn',
    optimizer: 'adam',
    learningRate: 0.001,
    knownAnswer: false,
  });
  await train(hub, 3);
  const admin = await openDashboard(browser, testInfo, adminLink(hub));
  const viewer = await openDashboard(browser, testInfo, `${hub.url}/`);
  const panel = admin.page.locator('[data-panel="admin"]');
  const control = (name: string) => panel.locator(`[data-control="${name}"]`);
  const outcome = (name: string) => control(name).locator('.outcome');

  // Pause: the hub says paused, and so does the panel; the button now resumes.
  await expect(admin.page.getByTestId('admin-paused')).toHaveText('running');
  await control('pause').getByRole('button', { name: 'Pause' }).click();
  await expect.poll(async () => (await hubStatus(hub)).paused).toBe(true);
  await expect(admin.page.getByTestId('admin-paused')).toHaveText('paused');
  await expect(outcome('pause')).toContainText('Paused');
  await expect(control('pause').getByRole('button')).toHaveText('Resume');

  // Learning rate.
  await control('learning-rate').getByLabel('new learning rate').fill('0.0005');
  await control('learning-rate').getByRole('button', { name: 'Apply' }).click();
  await expect.poll(async () => (await hubStatus(hub)).learningRate).toBe(0.0005);
  await expect(outcome('learning-rate')).toHaveText('Learning rate now 5e-4.');
  await expect(admin.page.getByTestId('admin-learning-rate')).toHaveText('5e-4');

  // Mode: sync; every dashboard's summary follows (the hub sends the history again).
  await control('mode').getByRole('button', { name: 'sync', exact: true }).click();
  await expect.poll(async () => (await hubStatus(hub)).mode).toBe('sync');
  await expect(control('mode').getByRole('button', { name: 'sync', exact: true })).toHaveAttribute(
    'aria-pressed',
    'true',
  );
  await expect(outcome('mode')).toContainText('Now sync');
  await expect(viewer.page.locator('[data-panel="summary"]')).toContainText('sync');

  // Checkpoint now: this hub keeps none, and the panel says so.
  await control('checkpoint').getByRole('button', { name: 'Checkpoint now' }).click();
  await expect(outcome('checkpoint')).toHaveAttribute('data-outcome', 'refused');
  await expect(outcome('checkpoint')).toContainText('NO_CHECKPOINTS');
  await expect(outcome('checkpoint')).toContainText('this hub runs without checkpoints');
  await admin.screenshot('dashboard-admin-used');

  // Resume.
  await control('pause').getByRole('button', { name: 'Resume' }).click();
  await expect.poll(async () => (await hubStatus(hub)).paused).toBe(false);
  await expect(admin.page.getByTestId('admin-paused')).toHaveText('running');

  // Reset asks first; Cancel changes nothing; the second click starts the run over.
  expect((await hubStatus(hub)).globalStep).toBe(3);
  await control('reset').getByRole('button', { name: 'Reset run…' }).click();
  await expect(control('reset')).toContainText('Start over from fresh weights at step 0?');
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  await panel.screenshot({ path: `${SCREENSHOTS_DIR}dashboard-admin-reset-confirm.png` });
  await control('reset').getByRole('button', { name: 'Cancel' }).click();
  expect((await hubStatus(hub)).globalStep).toBe(3);
  await control('reset').getByRole('button', { name: 'Reset run…' }).click();
  await control('reset').getByRole('button', { name: 'Yes, reset the run' }).click();
  await expect(outcome('reset')).toHaveText('The run started over at step 0.');
  expect((await hubStatus(hub)).globalStep).toBe(0);
  await expect(admin.page.getByTestId('global-step').locator('.value')).toHaveText('0');

  // A viewer never had a control to click.
  await expect(viewer.page.locator('[data-panel="admin"]')).toHaveCount(0);

  // On a phone the panel fits the screen's width.
  const phone = await openDashboard(browser, testInfo, adminLink(hub), PHONE);
  const phonePanel = phone.page.locator('[data-panel="admin"]');
  await expect(phonePanel).toHaveAttribute('data-ready', 'true');
  expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
    PHONE.width,
  );
  await phonePanel.screenshot({ path: `${SCREENSHOTS_DIR}dashboard-admin-phone.png` });

  expect([...admin.errors, ...viewer.errors, ...phone.errors]).toEqual([]);
});
