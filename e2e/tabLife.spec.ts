import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import type { WorkerView } from '../client/worker/BrowserWorker.js';
import type { RunningHub } from '../server/startHub.js';
import { describeTab, expect, hubStatus, SCREENSHOTS_DIR, test as base } from './fixtures.js';

// Tab life in a Chromium that treats background tabs as a person's browser does.
//
// Playwright's own launch cannot show it: it passes --disable-background-timer-throttling,
// --disable-renderer-backgrounding and --disable-backgrounding-occluded-windows, and it turns on focus
// emulation in every page, which keeps every page 'visible' (measured: a tab behind another one stays
// 'visible' and gets one animation frame a second, and cannot be frozen). So these tests start Chromium
// themselves without those switches and attach with connectOverCDP({ noDefaults: true }), which leaves
// the default context without focus emulation. There a tab behind another one is truly hidden:
// visibilityState 'hidden', no animation frames, timers woken once a second, and it can be frozen.

/** Playwright's default switches that keep background tabs running as if they were in front. */
const UNTHROTTLING_SWITCHES = [
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface BackgroundingChromium {
  readonly browser: Browser;
  /** The default context: no focus emulation, so pages behind another one are hidden. */
  readonly context: BrowserContext;
  /** The tab Chromium opened at start (about:blank); brought to front, it hides the others. */
  readonly blank: Page;
}

const test = base.extend<{ chromium: BackgroundingChromium }>({
  chromium: async ({ playwright, launchOptions }, use) => {
    const executable = launchOptions.executablePath;
    if (!executable) throw new Error('playwright.config.ts sets no Chromium executablePath');
    const args = (launchOptions.args ?? []).filter((arg) => !UNTHROTTLING_SWITCHES.includes(arg));
    const profile = mkdtempSync(join(tmpdir(), 'tab-life-'));
    const child = spawn(
      executable,
      [
        '--headless',
        // As Playwright's own launch does (it runs without the sandbox unless asked).
        '--no-sandbox',
        ...args,
        '--remote-debugging-port=0',
        `--user-data-dir=${profile}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      const endpoint = await devToolsEndpoint(child);
      const browser = await playwright.chromium.connectOverCDP(endpoint, { noDefaults: true, isLocal: true });
      const context = browser.contexts()[0];
      const blank = context.pages()[0] ?? (await context.newPage());
      await use({ browser, context, blank });
      // browser.close() only disconnects from a browser it did not launch: ask Chromium itself to quit,
      // so that its helper processes are gone before the profile is removed.
      const session = await browser.newBrowserCDPSession();
      await session.send('Browser.close').catch(() => undefined);
    } finally {
      const exited = new Promise((resolve) =>
        child.exitCode === null ? child.once('exit', resolve) : resolve(null),
      );
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
      await removeProfile(profile);
    }
  },
});

/**
 * Chromium's helper processes (the network service) may still write into the profile for a moment
 * after the browser process has exited.
 */
async function removeProfile(path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(path, { recursive: true, force: true });
      return;
    } catch (error) {
      if (attempt === 20) {
        console.log(`  could not remove the profile ${path}: ${String(error)}`);
        return;
      }
      await sleep(250);
    }
  }
}

/** Reads "DevTools listening on ws://..." from Chromium's stderr. */
function devToolsEndpoint(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    let found = false;
    const timer = setTimeout(() => reject(new Error(`Chromium did not start:\n${output}`)), 30_000);
    // Read stderr to the end all the same: a full pipe would block Chromium.
    child.stderr?.on('data', (chunk: Buffer) => {
      if (found) return;
      output += chunk.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(output);
      if (match) {
        found = true;
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`Chromium exited (${code}):\n${output}`)));
  });
}

/**
 * No duty cycle and no pressure backoff by default: these tests measure the tab's life, not the
 * volunteer's limits (the last test here measures the duty cycle in a hidden tab).
 */
async function openWorkerTab(
  context: BrowserContext,
  hubUrl: string,
  limits = 'cpu=100&pressure=off',
): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`[worker tab] page error: ${error.message}`));
  await page.goto(`${hubUrl}/worker?backend=wasm&${limits}`);
  await page.waitForFunction(() => window.__worker !== undefined);
  return page;
}

const status = (page: Page): Promise<WorkerView> => page.evaluate(() => window.__worker!.status());
const visibility = (page: Page): Promise<DocumentVisibilityState> =>
  page.evaluate(() => document.visibilityState);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function waitForTabSteps(page: Page, steps: number, timeout = 60_000): Promise<WorkerView> {
  await expect
    .poll(async () => (await status(page)).steps, { timeout, intervals: [250, 500] })
    .toBeGreaterThanOrEqual(steps);
  return status(page);
}

async function hubWorkerIds(hub: RunningHub): Promise<string[]> {
  return (await hubStatus(hub)).workers.map((w) => w.id);
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const path = `${SCREENSHOTS_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

interface MeasuredWindow {
  readonly hidden: boolean;
  readonly examplesPerSec: number;
  /** Steps trained and timer wake-ups over the window (counts). */
  readonly steps: number;
  readonly timerWakeUps: number;
  readonly framesPerSec: number;
  /** Wake-ups of a 100 ms setInterval: 10/s unthrottled. */
  readonly timerWakeUpsPerSec: number;
}

/** Freeze/resume cycles after the first, each at another point of a step. */
const FREEZE_CYCLES = 6;
const WINDOWS_EACH = 2;
const WINDOW_MS = 3_000;
/** Time for the tab to settle after a switch (the step in flight, the first yields). */
const SETTLE_MS = 500;

test('a truly hidden tab keeps training, its steps not paced by its throttled timers (side by side with visible)', async ({
  startHub,
  chromium,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const tab = await openWorkerTab(chromium.context, hub.url);
  await waitForTabSteps(tab, 5);
  const { workerId } = await status(tab);
  // Counters of what a hidden tab is denied: animation frames, and timer wake-ups.
  await tab.evaluate(() => {
    const counts = { frames: 0, timers: 0 };
    (window as unknown as { __counts: typeof counts }).__counts = counts;
    const frame = () => {
      counts.frames++;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    setInterval(() => counts.timers++, 100);
  });
  const sample = () =>
    tab.evaluate(() => ({
      at: performance.now(),
      examples: window.__worker!.status().examples,
      steps: window.__worker!.status().steps,
      ...(window as unknown as { __counts: { frames: number; timers: number } }).__counts,
    }));

  // Alternate so that any drift (the hub's batch sizing, the machine's load) falls on both sides.
  const windows: MeasuredWindow[] = [];
  for (let i = 0; i < 2 * WINDOWS_EACH; i++) {
    const hidden = i % 2 === 1;
    await (hidden ? chromium.blank : tab).bringToFront();
    await expect.poll(() => visibility(tab)).toBe(hidden ? 'hidden' : 'visible');
    await sleep(SETTLE_MS);
    const a = await sample();
    await sleep(WINDOW_MS);
    const b = await sample();
    expect(await visibility(tab)).toBe(hidden ? 'hidden' : 'visible');
    const seconds = (b.at - a.at) / 1000;
    windows.push({
      hidden,
      examplesPerSec: (b.examples - a.examples) / seconds,
      steps: b.steps - a.steps,
      timerWakeUps: b.timers - a.timers,
      framesPerSec: (b.frames - a.frames) / seconds,
      timerWakeUpsPerSec: (b.timers - a.timers) / seconds,
    });
  }
  const side = (hidden: boolean) => windows.filter((w) => w.hidden === hidden);
  const figures = (ws: MeasuredWindow[], key: keyof Omit<MeasuredWindow, 'hidden'>) =>
    ws.map((w) => w[key].toFixed(0));
  const visibleRate = median(side(false).map((w) => w.examplesPerSec));
  const hiddenRate = median(side(true).map((w) => w.examplesPerSec));
  const ratio = hiddenRate / visibleRate;
  for (const hidden of [false, true]) {
    const ws = side(hidden);
    console.log(
      `  ${hidden ? 'hidden ' : 'visible'} examples/s ${figures(ws, 'examplesPerSec').join(', ')}; ` +
        `frames/s ${figures(ws, 'framesPerSec').join(', ')}; 100 ms timer wake-ups/s ${figures(ws, 'timerWakeUpsPerSec').join(', ')}`,
    );
  }
  console.log(
    `  median examples/s: visible ${visibleRate.toFixed(0)}, hidden ${hiddenRate.toFixed(0)}; hidden/visible ${ratio.toFixed(2)}`,
  );

  // The hidden side was really throttled by the browser: no frames, timers woken about once a second.
  for (const w of side(true)) {
    expect(w.framesPerSec).toBe(0);
    expect(w.timerWakeUpsPerSec).toBeLessThanOrEqual(2);
    // And the loop does not wait on those timers: a worker that yielded with setTimeout between
    // steps takes at most one step per wake-up (+1). How fast it trains is the machine's (logged
    // above; speed is the bench's).
    expect(w.steps).toBeGreaterThan(2 * (w.timerWakeUps + 1));
  }
  // Hidden is not gone: the tab kept its place at the hub (and its lease) throughout.
  const view = await status(tab);
  expect(view.phase).toBe('training');
  expect(view.workerId).toBe(workerId);
  expect(view.connections).toBe(1);
  expect(await hubWorkerIds(hub)).toEqual([workerId]);
  expect(view.events.map((e) => e.text)).toContain('tab hidden: training goes on in the background');
  await tab.bringToFront();
  await expect
    .poll(async () => (await status(tab)).events.at(-1)?.text)
    .toMatch(/^tab visible again after \d+ s hidden, \d+ steps trained meanwhile$/);
  await screenshot(tab, 'worker-back-from-background');
});

test('a frozen tab leaves the hub and rejoins when resumed; navigating away leaves, back rejoins', async ({
  startHub,
  chromium,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const tab = await openWorkerTab(chromium.context, hub.url);
  const before = await waitForTabSteps(tab, 5);
  expect(await hubWorkerIds(hub)).toEqual([before.workerId]);

  // Browsers freeze background tabs only: hide it, then freeze it as Chromium does (the real
  // lifecycle transition: the page gets `freeze`, then runs no more tasks).
  await chromium.blank.bringToFront();
  await expect.poll(() => visibility(tab)).toBe('hidden');
  const cdp = await chromium.context.newCDPSession(tab);
  const frozenAt = Date.now();
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  await expect
    .poll(() => hubWorkerIds(hub), { timeout: 10_000, intervals: [100] })
    .not.toContain(before.workerId);
  console.log(`  frozen tab dropped by the hub after ${Date.now() - frozenAt} ms`);
  // Frozen means frozen: nothing reaches the hub from it (it is the only worker).
  const { globalStep } = await hubStatus(hub);
  await sleep(2_000);
  expect((await hubStatus(hub)).globalStep).toBe(globalStep);

  const resumedAt = Date.now();
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  await expect.poll(() => hubWorkerIds(hub), { timeout: 10_000, intervals: [100] }).toHaveLength(1);
  console.log(`  resumed tab listed by the hub again after ${Date.now() - resumedAt} ms`);
  // Still hidden, and training again under its new id.
  const after = await waitForTabSteps(tab, (await status(tab)).steps + 10, 30_000);
  console.log(`  ${describeTab(after)}`);
  expect(await visibility(tab)).toBe('hidden');
  expect(after.phase).toBe('training');
  expect(after.workerId).not.toBe(before.workerId);
  expect(after.connections).toBe(before.connections + 1);
  expect(await hubWorkerIds(hub)).toEqual([after.workerId]);

  // Frozen wherever the loop happens to be (awaiting the hub, between steps): each freeze leaves, each
  // resume joins again at once, never by way of the error backoff.
  const rejoinMs: number[] = [];
  for (let i = 0; i < FREEZE_CYCLES; i++) {
    const { workerId } = await status(tab);
    await sleep(100 + 37 * i);
    await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
    await expect.poll(() => hubWorkerIds(hub), { timeout: 10_000, intervals: [50] }).not.toContain(workerId);
    const at = Date.now();
    await cdp.send('Page.setWebLifecycleState', { state: 'active' });
    await expect.poll(() => hubWorkerIds(hub), { timeout: 10_000, intervals: [50] }).toHaveLength(1);
    rejoinMs.push(Date.now() - at);
  }
  const cycled = await waitForTabSteps(tab, (await status(tab)).steps + 5, 30_000);
  console.log(`  ${FREEZE_CYCLES} more freeze/resume cycles: rejoined after ${rejoinMs.join(', ')} ms`);
  expect(cycled.connections).toBe(after.connections + FREEZE_CYCLES);
  expect(cycled.events.map((e) => e.text).join('\n')).not.toMatch(/retrying in/);
  const log = after.events.map((e) => e.text).join('\n');
  expect(log).toMatch(
    /frozen by the browser: left the hub.*\n(.*\n)*resumed by the browser: joining the hub again\n(.*\n)*joined the hub as w\d+/,
  );
  await tab.bringToFront();
  await screenshot(tab, 'worker-resumed-after-freeze');

  // The page in its 'frozen' state, for the picture: a frozen page paints nothing, so this dispatches
  // the events to the same handlers while the tab is in front.
  await tab.evaluate(() => document.dispatchEvent(new Event('freeze')));
  await expect.poll(async () => (await status(tab)).phase).toBe('frozen');
  await screenshot(tab, 'worker-frozen');
  await tab.evaluate(() => document.dispatchEvent(new Event('resume')));
  const rejoined = await waitForTabSteps(tab, (await status(tab)).steps + 3, 30_000);

  // Navigating away (pagehide) leaves at once, the socket closed by the page itself.
  const leftAt = Date.now();
  await tab.goto('about:blank');
  await expect
    .poll(() => hubWorkerIds(hub), { timeout: 10_000, intervals: [50] })
    .not.toContain(rejoined.workerId);
  console.log(`  tab navigated away: dropped by the hub after ${Date.now() - leftAt} ms`);
  // Back again: this browser keeps a back/forward cache (Playwright's own launch turns it off). A page
  // restored from it had left the hub, so it reloads (navigation type 'reload'); either way it rejoins.
  await tab.goBack();
  const back = await waitForTabSteps(tab, 3, 30_000);
  const navigation = await tab.evaluate(
    () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).type,
  );
  console.log(`  back: navigation type '${navigation}'; ${describeTab(back)}`);
  expect(await hubWorkerIds(hub)).toEqual([back.workerId]);
  await cdp.detach().catch(() => undefined);
});

test('a hidden tab keeps its duty cycle: its rests are timed where the throttling does not reach', async ({
  startHub,
  chromium,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const tab = await openWorkerTab(chromium.context, hub.url, 'cpu=50&pressure=off');
  await waitForTabSteps(tab, 5);
  await tab.evaluate(() => {
    const counts = { timers: 0 };
    (window as unknown as { __counts: typeof counts }).__counts = counts;
    setInterval(() => counts.timers++, 100);
  });
  await chromium.blank.bringToFront();
  await expect.poll(() => visibility(tab)).toBe('hidden');
  // Long enough for the 5 s window to hold nothing but hidden steps.
  await sleep(SETTLE_MS + 6_000);
  const sample = () =>
    tab.evaluate(() => ({
      at: performance.now(),
      steps: window.__worker!.status().steps,
      share: window.__worker!.limits().measuredShare,
      timers: (window as unknown as { __counts: { timers: number } }).__counts.timers,
    }));
  const a = await sample();
  await sleep(WINDOW_MS);
  const b = await sample();
  const seconds = (b.at - a.at) / 1000;
  const steps = (b.steps - a.steps) / seconds;
  const wakeUps = (b.timers - a.timers) / seconds;
  console.log(
    `  hidden at cpu=50: measured duty cycle ${((b.share ?? 0) * 100).toFixed(0)}%, ${steps.toFixed(1)} steps/s; ` +
      `100 ms timer wake-ups/s ${wakeUps.toFixed(1)}`,
  );
  expect(await visibility(tab)).toBe('hidden');
  // The page's own timers are throttled to about one a second; the rests between steps are not, or a
  // step (~0.1 s) and its rest would take a second, and the duty cycle would fall far below 50%.
  expect(wakeUps).toBeLessThanOrEqual(2);
  expect(steps).toBeGreaterThan(2);
  expect(b.share).toBeGreaterThan(0.4);
  expect(b.share).toBeLessThan(0.6);
});
