import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import type { VolunteerStanding } from '../shared/volunteerStanding.js';
import { DEFAULT_HUB_OPTIONS } from '../server/options.js';
import { startHub, type RunningHub } from '../server/startHub.js';
import { TEST_LISTEN } from '../server/testing/testHub.js';
import { expect, test } from './fixtures.js';

// Issue 16, acceptance 1 (identity and credit): one browser profile is one volunteer across a reload
// and a second tab, its credit adds up in /api/volunteers, and it survives a hub restart.

async function standings(hub: RunningHub): Promise<VolunteerStanding[]> {
  return (await (await fetch(`${hub.url}/api/volunteers`)).json()) as VolunteerStanding[];
}

async function openTab(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/worker?backend=wasm`);
  await page.waitForFunction(() => window.__worker !== undefined);
}

async function stepsOf(page: Page): Promise<number> {
  return page.evaluate(() => window.__worker!.status().steps);
}

test('one browser profile is one volunteer across a reload and a second tab; its credit survives a hub restart', async ({
  browser,
}) => {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-credit-'));
  const options = {
    ...DEFAULT_HUB_OPTIONS,
    mode: 'async' as const,
    model: 'cnn' as const,
    evalIntervalMs: 60_000,
    evalExamples: 1_000,
  };
  const checkpoints = { dir, intervalMs: 60_000, keep: 2, fresh: false };
  const hubs: RunningHub[] = [];
  const context = await browser.newContext();
  try {
    const first = await startHub(options, TEST_LISTEN, checkpoints);
    hubs.push(first);
    const tab = await context.newPage();
    await openTab(tab, first.url);
    await expect.poll(() => stepsOf(tab), { timeout: 90_000 }).toBeGreaterThanOrEqual(3);

    // A reload, then a second tab of the same profile (the same localStorage, so the same token).
    await tab.reload();
    await tab.waitForFunction(() => window.__worker !== undefined);
    const second = await context.newPage();
    await openTab(second, first.url);
    await expect.poll(() => stepsOf(second), { timeout: 90_000 }).toBeGreaterThanOrEqual(3);
    await expect.poll(() => stepsOf(tab), { timeout: 90_000 }).toBeGreaterThanOrEqual(3);

    const appliedBefore = first.hub.coordinator.status().examplesSeen;
    const board = await standings(first);
    const appliedAfter = first.hub.coordinator.status().examplesSeen;
    const [one] = board;
    console.log(`  one profile, two tabs: ${JSON.stringify(board)}`);
    expect(board).toHaveLength(1);
    expect(one).toMatchObject({ rank: 1, share: 1, online: 2 });
    // Its credit is every example the hub applied (all came from this one volunteer), read between two
    // readings of the hub's count while the tabs go on pushing.
    expect(one.examples).toBeGreaterThanOrEqual(appliedBefore);
    expect(one.examples).toBeLessThanOrEqual(appliedAfter);

    // The hub restarts (a last checkpoint on the way down); the tabs reconnect on their own.
    await first.close();
    hubs.splice(0);
    const again = await startHub(options, { host: '127.0.0.1', port: first.port }, checkpoints);
    hubs.push(again);
    const [restored] = await standings(again);
    expect(restored.volunteer).toBe(one.volunteer);
    expect(restored.examples).toBeGreaterThanOrEqual(one.examples);
    await expect
      .poll(async () => (await standings(again))[0]?.examples ?? 0, { timeout: 90_000 })
      .toBeGreaterThan(restored.examples);
    const after = await standings(again);
    console.log(`  after the restart: ${JSON.stringify(after)}`);
    expect(after).toHaveLength(1);
    expect(after[0].volunteer).toBe(one.volunteer);
  } finally {
    await context.close();
    for (const hub of hubs) await hub.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
