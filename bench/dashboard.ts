import type { Page } from '@playwright/test';
import { DEFAULT_HUB_OPTIONS } from '../server/options.js';
import { simulateVolunteers } from '../server/testing/simulatedVolunteers.js';
import type { BenchBrowser } from './browser.js';
import { startChildHub, using } from './hubs.js';
import type { Log } from './log.js';
import type { DashboardResult, DashboardWindow } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, sleep, waitFor } from './stats.js';

/** The viewport of e2e/dashboard.spec.ts's laptop. */
const VIEWPORT = { width: 1440, height: 900 } as const;
/** The page's history arrives, and it lists every volunteer, within this. */
const LOAD_TIMEOUT_MS = 60_000;
/** A window closes on the first update after its time; past this without one, it closes anyway. */
const CLOSE_TIMEOUT_MS = 10_000;
const POLL_MS = 20;

declare global {
  interface Window {
    /** Every long task of the page (start, duration; ms on its performance clock), from the start. */
    __benchLongTasks?: { start: number; duration: number }[];
  }
}

/** In the page before its own scripts: records every long task ('longtask', > 50 ms of main thread). */
function watchLongTasks(): void {
  const tasks: { start: number; duration: number }[] = [];
  window.__benchLongTasks = tasks;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
}

interface PageMark {
  /** Updates the dashboard had taken (`window.__dashboard.history().updates`). */
  readonly updates: number;
  /** The global step the page shows. */
  readonly globalStep: number;
  /** The page's performance.now(). */
  readonly at: number;
}

function mark(page: Page): Promise<PageMark> {
  return page.evaluate(() => ({
    updates: window.__dashboard?.history().updates ?? 0,
    globalStep: window.__dashboard?.globalStep() ?? -1,
    at: performance.now(),
  }));
}

/** Polls until the page has taken an update past `after`; the mark of the first poll that saw it. */
async function nextUpdate(page: Page, after: number, timeoutMs: number): Promise<PageMark | null> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const m = await mark(page);
    if (m.updates > after) return m;
    if (performance.now() > until) return null;
    await sleep(POLL_MS);
  }
}

/**
 * Figure 10: the dashboard at `/` in Chromium while simulated volunteers push through a hub. The hub
 * runs in a child process (cnn, async, the hub's defaults, its test evaluation included, so the
 * dashboard redraws accuracy, predictions and filters as it would; known-answer check off: the
 * volunteers push random gradients), the volunteers are HubClients in this process (as in
 * e2e/dashboard.spec.ts: pull, push, ~150-240 ms pause, ~250 pushes/s in all), and the page records
 * its long tasks. Each window opens and closes on an update the page took, and counts the updates
 * and the long tasks between.
 */
export async function measureDashboard(
  browser: BenchBrowser,
  settings: BenchSettings,
  log: Log,
): Promise<DashboardResult> {
  const { volunteers, warmupSeconds, seconds, windows: windowCount } = settings.dashboard;
  const { evalIntervalMs, evalExamples, dashboardIntervalMs } = DEFAULT_HUB_OPTIONS;
  return using(
    startChildHub({ model: 'cnn', knownAnswer: false, evalIntervalMs, evalExamples }),
    async (hub) => {
      const crowd = await simulateVolunteers(hub.url, volunteers, 'bench volunteer');
      try {
        const tab = await browser.openPage('dashboard', `${hub.url}/`, {
          viewport: VIEWPORT,
          initScript: watchLongTasks,
        });
        try {
          const { page } = tab;
          await waitFor(
            `the dashboard to list ${volunteers} volunteers`,
            async () =>
              (await page.evaluate(() => window.__dashboard?.workers().length ?? 0)) >= volunteers
                ? true
                : undefined,
            LOAD_TIMEOUT_MS,
            250,
          );
          await sleep(warmupSeconds * 1000);
          const loadTasks = await longTasksBetween(page, 0, (await mark(page)).at);
          log(
            `  loading and the first ${volunteers} rows: ${loadTasks.length} long tasks, ` +
              `longest ${Math.max(0, ...loadTasks.map((t) => t.duration)).toFixed(0)} ms`,
          );

          const windows: DashboardWindow[] = [];
          const pushesBefore = crowd.pushes();
          const refusedBefore = crowd.refused();
          const started = performance.now();
          for (let i = 0; i < windowCount; i++) {
            windows.push(await measureWindow(page, seconds));
            const w = windows.at(-1)!;
            log(
              `  window ${i + 1}: ${w.updates} updates in ${w.seconds.toFixed(1)} s (${w.updatesPerSec.toFixed(2)}/s; global step +${w.steps}), ` +
                `${w.longTasks} long tasks, longest ${w.longestTaskMs.toFixed(0)} ms, ${(w.longTaskShare * 100).toFixed(1)}% of the time`,
            );
          }
          const elapsed = (performance.now() - started) / 1000;
          const shown = await page.evaluate(() => {
            const api = window.__dashboard!;
            const panels = Object.values(api.panels());
            return {
              accuracy: api.testAccuracy(),
              live: panels.filter(Boolean).length,
              panels: panels.length,
              images: api.imagesDrawn(),
            };
          });
          log(
            `  the page: test accuracy ${shown.accuracy ?? '-'}, ${shown.live}/${shown.panels} panels live, ` +
              `${shown.images.filters} filters and ${shown.images.digits} digits drawn`,
          );
          const failure = crowd.failure();
          if (failure !== undefined) {
            throw new Error(
              `a simulated volunteer stopped: ${failure instanceof Error ? failure.message : String(failure)}`,
            );
          }
          return {
            volunteers,
            model: 'cnn',
            evalIntervalMs,
            evalExamples,
            updateIntervalMs: dashboardIntervalMs,
            viewport: VIEWPORT,
            windowSeconds: seconds,
            updatesPerSec: median(windows.map((w) => w.updatesPerSec)),
            longestTaskMs: median(windows.map((w) => w.longestTaskMs)),
            longTaskShare: median(windows.map((w) => w.longTaskShare)),
            worstLongestTaskMs: Math.max(...windows.map((w) => w.longestTaskMs)),
            windows,
            pushesPerSec: (crowd.pushes() - pushesBefore) / elapsed,
            refused: crowd.refused() - refusedBefore,
            loadLongTasks: loadTasks.length,
            loadLongestTaskMs: Math.max(0, ...loadTasks.map((t) => t.duration)),
          };
        } finally {
          await tab.close();
        }
      } finally {
        await crowd.stop();
      }
    },
  );
}

/** One window: from an update, `seconds`, to the next update (or CLOSE_TIMEOUT_MS past, without). */
async function measureWindow(page: Page, seconds: number): Promise<DashboardWindow> {
  const open = await nextUpdate(page, (await mark(page)).updates, CLOSE_TIMEOUT_MS);
  if (open === null) throw new Error(`the dashboard took no update in ${CLOSE_TIMEOUT_MS / 1000} s`);
  await sleep(seconds * 1000);
  const close = (await nextUpdate(page, (await mark(page)).updates, CLOSE_TIMEOUT_MS)) ?? (await mark(page));
  const ms = close.at - open.at;
  const tasks = await longTasksBetween(page, open.at, close.at);
  // A task that straddles an edge counts for its part inside the window.
  const inside = tasks.reduce(
    (sum, t) => sum + Math.min(t.start + t.duration, close.at) - Math.max(t.start, open.at),
    0,
  );
  return {
    seconds: ms / 1000,
    updates: close.updates - open.updates,
    steps: close.globalStep - open.globalStep,
    updatesPerSec: ((close.updates - open.updates) * 1000) / ms,
    longTasks: tasks.length,
    longestTaskMs: Math.max(0, ...tasks.map((t) => t.duration)),
    longTaskShare: inside / ms,
  };
}

/** The page's long tasks that overlap [from, to] (page clock). */
function longTasksBetween(
  page: Page,
  from: number,
  to: number,
): Promise<{ start: number; duration: number }[]> {
  return page.evaluate(
    ([f, t]) => (window.__benchLongTasks ?? []).filter((e) => e.start < t && e.start + e.duration > f),
    [from, to] as const,
  );
}
