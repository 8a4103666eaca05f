import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test as base, expect, type Browser, type Page } from '@playwright/test';
import type { WorkerView } from '../client/worker/BrowserWorker.js';
import type { Evaluation } from '../server/evaluation/PeriodicEvaluation.js';
import type { HubStatus } from '../server/hubStatus.js';
import type { HubOptions } from '../server/options.js';
import type { RunningHub } from '../server/startHub.js';
import { startTestHub } from '../server/testing/testHub.js';

export { expect };

/** No duty cycle and no backoff: a tab that trains as fast as it can. */
export const UNLIMITED: Readonly<Record<string, string>> = { cpu: '100', pressure: 'off' };

export const SCREENSHOTS_DIR = fileURLToPath(new URL('./screenshots/', import.meta.url));

/** One browser tab running the worker page, in a context of its own (its own process and storage). */
export interface WorkerTab {
  readonly page: Page;
  /** window.__worker.status() */
  status(): Promise<WorkerView>;
  /** Closes the tab the way a person does (pagehide fires). */
  close(): Promise<void>;
  screenshot(name: string): Promise<string>;
}

export interface E2eFixtures {
  /** A real hub (startTestHub: 127.0.0.1, port 0), closed after the test. */
  startHub(overrides?: Partial<HubOptions>): Promise<RunningHub>;
  /**
   * Opens `${hub.url}/worker` (optionally `?backend=...`) in a new tab and waits for its test API.
   * `params` are more URL parameters, by default `cpu=100&pressure=off`: the specs measure training,
   * the hub and the tab's life, not the volunteer's limits (limits.spec.ts does, and passes its own).
   * Pressure too: Chromium reports this busy machine's real CPU pressure, often 'critical'.
   */
  openWorker(
    hubUrl: string,
    options?: {
      backend?: string;
      params?: Record<string, string>;
      viewport?: { width: number; height: number };
    },
  ): Promise<WorkerTab>;
}

export const test = base.extend<E2eFixtures>({
  // Playwright's fixture signature needs the destructuring pattern even when no fixture is used.
  // eslint-disable-next-line no-empty-pattern
  startHub: async ({}, use) => {
    const hubs: RunningHub[] = [];
    await use(async (overrides = {}) => {
      // Browser tabs take the known-answer check at join, as they do against `npm start`.
      const hub = await startTestHub({ knownAnswer: true, ...overrides });
      hubs.push(hub);
      return hub;
    });
    for (const hub of hubs) await hub.close().catch(() => undefined);
  },
  openWorker: async ({ browser }, use, testInfo) => {
    const contexts: Awaited<ReturnType<Browser['newContext']>>[] = [];
    await use(async (hubUrl, options = {}) => {
      const context = await browser.newContext(options.viewport ? { viewport: options.viewport } : {});
      contexts.push(context);
      const page = await context.newPage();
      const label = `tab ${contexts.length}${options.backend ? ` (${options.backend})` : ''}`;
      page.on('pageerror', (error) => console.log(`[${label}] page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') console.log(`[${label}] console: ${message.text()}`);
      });
      const params = new URLSearchParams(options.params ?? UNLIMITED);
      if (options.backend) params.set('backend', options.backend);
      const query = params.size > 0 ? `?${params}` : '';
      await page.goto(`${hubUrl}/worker${query}`);
      await page.waitForFunction(() => window.__worker !== undefined);
      return {
        page,
        status: () => page.evaluate(() => window.__worker!.status()),
        close: () => page.close(),
        async screenshot(name) {
          mkdirSync(SCREENSHOTS_DIR, { recursive: true });
          const path = `${SCREENSHOTS_DIR}${name}.png`;
          await page.screenshot({ path, fullPage: true });
          await testInfo.attach(name, { path, contentType: 'image/png' });
          return path;
        },
      };
    });
    for (const context of contexts) await context.close().catch(() => undefined);
  },
});

/** GET /api/status, over HTTP as a dashboard would. */
export async function hubStatus(hub: RunningHub): Promise<HubStatus> {
  const response = await fetch(`${hub.url}/api/status`);
  expect(response.ok).toBe(true);
  return (await response.json()) as HubStatus;
}

export interface AccuracyRun {
  readonly reached: Evaluation;
  readonly evaluations: readonly Evaluation[];
  readonly seconds: number;
}

/**
 * Evaluates the hub's weights on the test set every `everyExamples` examples it has applied, and
 * returns as soon as `holdFor` evaluations in a row (default 2: held, not touched once) reach
 * `target`; `reached` is the last of them. Fails once the hub is past `maxExamples` without that.
 * Evaluations run in the hub's evaluator thread while training goes on; each reports the examples
 * seen by the weights it measured.
 */
export async function trainUntilAccuracy(
  hub: RunningHub,
  {
    target,
    maxExamples,
    everyExamples,
    holdFor = 2,
  }: { target: number; maxExamples: number; everyExamples: number; holdFor?: number },
): Promise<AccuracyRun> {
  const started = Date.now();
  const evaluations: Evaluation[] = [];
  let held = 0;
  let next = everyExamples;
  for (;;) {
    const { examplesSeen } = hub.hub.coordinator.status();
    if (examplesSeen >= next) {
      const evaluation = await hub.hub.evaluateNow();
      evaluations.push(evaluation);
      console.log(
        `  ${((Date.now() - started) / 1000).toFixed(0)} s: ${evaluation.examplesSeen} examples, ` +
          `step ${evaluation.globalStep}, test accuracy ${evaluation.accuracy.toFixed(4)}`,
      );
      held = evaluation.accuracy >= target ? held + 1 : 0;
      if (held >= holdFor && evaluation.examplesSeen <= maxExamples) {
        return { reached: evaluation, evaluations, seconds: (Date.now() - started) / 1000 };
      }
      if (evaluation.examplesSeen > maxExamples) {
        throw new Error(
          `test accuracy ${evaluation.accuracy.toFixed(4)} < ${target} after ${evaluation.examplesSeen} examples ` +
            `(limit ${maxExamples}); evaluations: ${evaluations.map((e) => `${e.examplesSeen}:${e.accuracy.toFixed(3)}`).join(' ')}`,
        );
      }
      next = Math.max(next + everyExamples, evaluation.examplesSeen + everyExamples / 2);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Polls the tab until it has pushed `steps` accepted gradients. */
export async function waitForSteps(tab: WorkerTab, steps: number, timeout = 60_000): Promise<WorkerView> {
  await expect
    .poll(async () => (await tab.status()).steps, { timeout, intervals: [250, 500, 1000] })
    .toBeGreaterThanOrEqual(steps);
  return tab.status();
}

/** A line for the test log. */
export function describeTab(view: WorkerView): string {
  return (
    `${view.workerId ?? '-'} ${view.phase} on ${view.backendDetail ?? view.backend}: ${view.steps} steps, ` +
    `${view.examplesPerSec.toFixed(0)} examples/s, loss ${view.loss?.toFixed(4) ?? '-'}`
  );
}
