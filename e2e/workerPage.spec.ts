import { expect, hubStatus, test, waitForSteps } from './fixtures.js';

// The /worker page as a volunteer sees it (issue 16): what it does and sends, their own contribution
// from /api/volunteers, the run's accuracy, and a layout that fits a laptop and a phone.

test('the worker page shows the contribution and the accuracy, at laptop and phone width', async ({
  startHub,
  openWorker,
}) => {
  // Evaluations every 2 s, so that the accuracy chart has a curve within the test.
  const hub = await startHub({ mode: 'async', model: 'cnn', evalIntervalMs: 2_000 });
  const tab = await openWorker(hub.url, {
    params: { cpu: '100', pressure: 'off' },
    viewport: { width: 1280, height: 900 },
  });
  const { page } = tab;
  await waitForSteps(tab, 30, 120_000);
  await expect(page.getByTestId('lead')).toContainText('public MNIST');
  await expect(page.getByTestId('lead')).toContainText("only changes to the model's weights");

  // The volunteer's own standing, found by the name the hub gave at hello.
  const view = await tab.status();
  expect(view.volunteer).not.toBeNull();
  await expect(page.getByTestId('contribution-rank')).toHaveText('1', { timeout: 20_000 });
  await expect(page.getByTestId('contribution-share')).toHaveText('100%');
  const board = (await (await fetch(`${hub.url}/api/volunteers`)).json()) as { volunteer: string }[];
  expect(board.map((row) => row.volunteer)).toEqual([view.volunteer]);

  // A display name, sent with the next hello (the page joins again with it).
  await page.getByTestId('display-name').fill('Ada L.');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect
    .poll(
      async () => ((await (await fetch(`${hub.url}/api/volunteers`)).json()) as { name: string }[])[0]?.name,
    )
    .toBe('Ada L.');
  await page.getByTestId('display-name').fill('no <html> please');
  await expect(page.getByText('only letters, digits, spaces and _ . -')).toBeVisible();
  await page.getByTestId('display-name').fill('Ada L.');

  await expect
    .poll(async () => page.locator('[data-testid="accuracy"] canvas').count(), { timeout: 30_000 })
    .toBeGreaterThan(0);
  await new Promise((resolve) => setTimeout(resolve, 6_000)); // a few more points on the curve
  console.log(
    `  hub: step ${(await hubStatus(hub)).globalStep}, test accuracy ${(await hubStatus(hub)).testAccuracy}`,
  );
  await tab.screenshot('worker-page-laptop');

  // A phone (390 px): nothing runs off the right edge.
  await page.setViewportSize({ width: 390, height: 844 });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
  }));
  console.log(`  at 390 px: the page is ${widths.page} px wide`);
  expect(widths.page).toBeLessThanOrEqual(widths.viewport);
  // The probe's table too, without scrolling sideways in its box.
  const table = await page.getByTestId('probe').evaluate((t) => ({
    table: t.scrollWidth,
    box: (t.parentElement as HTMLElement).clientWidth,
  }));
  expect(table.table).toBeLessThanOrEqual(table.box);
  await tab.screenshot('worker-page-phone');
});
