import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from '@playwright/test';
import type { LocalSnapshot, LocalTrainerView } from '../client/bench/benchApi.js';
import type { WorkerView } from '../client/worker/BrowserWorker.js';
import { CHROMIUM_ARGS } from '../scripts/chromiumArgs.js';
import { findChromium, HOW_TO_GET_ONE } from '../scripts/find-chromium.mjs';
import { waitFor } from './stats.js';

/** The local-training page that `vite build` writes (client/bench/index.html). */
const LOCAL_PAGE = fileURLToPath(new URL('../dist/client/bench/index.html', import.meta.url));
const LOCAL_PATH = '/bench/';
/** A tab may probe every backend (WebGPU on SwiftShader compiles for ~15 s) before it is ready. */
const READY_TIMEOUT_MS = 180_000;
/**
 * After a tab is ready, before anything is timed: a probe's WebGPU step that ran out of budget keeps
 * the GPU process (SwiftShader, on the CPU) busy for a second or two after the tab has moved on.
 */
export const SETTLE_AFTER_OPEN_MS = 2_000;

/** What every bench tab can do: slow down like a slower machine, and close. */
export interface BenchTab {
  /**
   * Slows the tab's renderer down `rate` times (DevTools `Emulation.setCPUThrottlingRate`; 1: full
   * speed), like a slower laptop: the main thread, where the worker page and the local page run
   * TF.js (wasm, one thread), gets 1/rate of the time it would. Lasts until the tab closes.
   */
  throttleCpu(rate: number): Promise<void>;
  close(): Promise<void>;
}

/** The worker page (`/worker`) in a tab of its own, as a volunteer opens it. */
export interface WorkerTab extends BenchTab {
  status(): Promise<WorkerView>;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** The local-training page (client/bench) in a tab of its own. */
export interface LocalTab extends BenchTab {
  status(): Promise<LocalTrainerView>;
  start(fresh: boolean): Promise<void>;
  pause(): Promise<void>;
  snapshot(): Promise<LocalSnapshot>;
}

export interface LocalPageSettings {
  readonly backend: string;
  readonly model: string;
  readonly batch: number;
  readonly optimizer: string;
  readonly lr: number;
  readonly unit: number;
  readonly seed: number;
}

/** Headless Chromium as the end-to-end tests launch it; every tab in a context of its own. */
export class BenchBrowser {
  private constructor(
    private readonly browser: Browser,
    readonly version: string,
  ) {}

  static async launch(): Promise<BenchBrowser> {
    const found = await findChromium();
    if (found.path === null) throw new Error(`${found.problem}.\n${HOW_TO_GET_ONE}`);
    const browser = await chromium.launch({
      executablePath: found.path,
      args: [...CHROMIUM_ARGS],
      headless: true,
    });
    return new BenchBrowser(browser, browser.version());
  }

  /**
   * Opens `${hubUrl}/worker` and pauses it at once: the tab still picks its backend (a probe, for
   * auto) but does not join the hub until `resume()`. Resolves once the backend is chosen.
   *
   * `hubUrl` may be a relay's (`LinkRelay.url`) instead of the hub's: the tab then loads the page
   * through the relay and, since the page takes its own origin as the hub, everything it fetches and
   * pushes crosses the relay's link.
   */
  async openWorkerTab(hubUrl: string, backend: string): Promise<WorkerTab> {
    const { page, context, throttleCpu } = await this.newPage('worker');
    try {
      // No duty cycle or pressure backoff: the bench measures what a tab can do, not a volunteer's limits.
      await page.goto(`${hubUrl}/worker?backend=${encodeURIComponent(backend)}&cpu=100&pressure=off`);
      await page.waitForFunction(() => window.__worker !== undefined);
      await page.evaluate(() => window.__worker!.pause());
      const status = () => page.evaluate(() => window.__worker!.status());
      await waitFor(
        'the worker tab to choose its backend',
        async () => {
          const view = await status();
          if (view.phase === 'failed') throw new Error(`the worker tab failed: ${view.detail}`);
          return view.backend !== null && view.phase === 'paused' ? view : undefined;
        },
        READY_TIMEOUT_MS,
        250,
      );
      return {
        status,
        pause: () => page.evaluate(() => window.__worker!.pause()),
        resume: () => page.evaluate(() => window.__worker!.resume()),
        throttleCpu,
        close: () => context.close(),
      };
    } catch (error) {
      await context.close();
      throw error;
    }
  }

  /**
   * Opens the local-training page on the hub's origin, so that it fetches examples from the hub's
   * HTTP route and its assets from the hub's /assets (the hub serves only / and /worker as pages, so
   * the page itself is handed over here, with the same isolation headers). Resolves once the page
   * has chosen its backend; it trains only after `start()`.
   */
  async openLocalTab(hubUrl: string, settings: LocalPageSettings): Promise<LocalTab> {
    const { page, context, throttleCpu } = await this.newPage('local');
    try {
      const html = await readFile(LOCAL_PAGE, 'utf8').catch(() => {
        throw new Error(`${LOCAL_PAGE} is missing: run \`npm run build:client\` first`);
      });
      await page.route(
        (url) => url.pathname === LOCAL_PATH,
        (route) =>
          route.fulfill({
            status: 200,
            contentType: 'text/html',
            headers: {
              'Cross-Origin-Opener-Policy': 'same-origin',
              'Cross-Origin-Embedder-Policy': 'require-corp',
              'Cache-Control': 'no-store',
            },
            body: html,
          }),
      );
      const query = new URLSearchParams(Object.entries(settings).map(([key, value]) => [key, String(value)]));
      await page.goto(`${hubUrl}${LOCAL_PATH}?${query}`);
      await page.waitForFunction(() => window.__bench !== undefined);
      const status = () => page.evaluate(() => window.__bench!.status());
      await waitFor(
        'the local page to choose its backend',
        async () => {
          const view = await status();
          if (view.phase === 'failed') throw new Error(`the local page failed: ${view.detail}`);
          return view.phase === 'ready' ? view : undefined;
        },
        READY_TIMEOUT_MS,
        250,
      );
      return {
        status,
        start: (fresh) => page.evaluate((f) => window.__bench!.start({ fresh: f }), fresh),
        pause: () => page.evaluate(() => window.__bench!.pause()),
        snapshot: () => page.evaluate(() => window.__bench!.snapshot()),
        throttleCpu,
        close: () => context.close(),
      };
    } catch (error) {
      await context.close();
      throw error;
    }
  }

  /**
   * `url` in a tab of its own (`viewport` sized), `initScript` run in it before the page's own
   * scripts: for a phase that drives a page the bench has no wrapper for (the dashboard).
   */
  async openPage(
    label: string,
    url: string,
    options: { viewport: { width: number; height: number }; initScript?: () => void },
  ): Promise<{ page: Page; close(): Promise<void> }> {
    const { page, context } = await this.newPage(label, options.viewport);
    try {
      if (options.initScript) await page.addInitScript(options.initScript);
      await page.goto(url);
      return { page, close: () => context.close() };
    } catch (error) {
      await context.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.browser.close();
  }

  private async newPage(
    label: string,
    viewport = { width: 960, height: 900 },
  ): Promise<{
    page: Page;
    context: BrowserContext;
    throttleCpu: (rate: number) => Promise<void>;
  }> {
    const context = await this.browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`[${label} tab] page error: ${error.message}`));
    // The emulation lasts as long as the DevTools session that set it: keep one per tab.
    let cdp: CDPSession | null = null;
    const throttleCpu = async (rate: number) => {
      if (!(rate >= 1)) throw new Error(`a CPU throttling rate is 1 or more, not ${rate}`);
      cdp ??= await context.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate });
    };
    return { page, context, throttleCpu };
  }
}
