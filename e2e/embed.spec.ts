import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeTab, expect, hubStatus, SCREENSHOTS_DIR, test } from './fixtures.js';

// The "help train" card (/embed) in an iframe on another origin: a second server on 127.0.0.1, on
// another port, serves a page that frames `${hub.url}/embed`, as a project's site would.

async function serveEmbeddingPage(hubUrl: string): Promise<{ url: string; server: Server }> {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A site that embeds the card</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem; background: #eef2f6">
<h1 style="font-size: 1.3rem">Our research project</h1>
<p>Lend us your browser for a few minutes:</p>
<iframe src="${hubUrl}/embed?backend=wasm&pressure=off" title="Help train" width="440" height="300"
  style="border: 0"></iframe>
</body></html>`;
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

test('the embed card trains in an iframe on another origin after a click, and not before', async ({
  startHub,
  browser,
}) => {
  const hub = await startHub({ mode: 'async', model: 'cnn' });
  const site = await serveEmbeddingPage(hub.url);
  const context = await browser.newContext({ viewport: { width: 640, height: 420 } });
  try {
    const page = await context.newPage();
    page.on('pageerror', (error) => console.log(`[embedding page] page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') console.log(`[embedding page] console: ${message.text()}`);
    });
    expect(new URL(site.url).origin).not.toBe(new URL(hub.url).origin);
    await page.goto(site.url);
    const card = page.frameLocator('iframe');
    await expect(card.getByRole('heading', { name: 'Help train a model' })).toBeVisible();
    await expect(card.getByTestId('cpu-value')).toHaveText('50%');
    const frame = page.frames().find((f) => f.url().startsWith(`${hub.url}/embed`));
    if (frame === undefined) throw new Error('the card did not load in the iframe');

    // Not before a click: nothing joins the hub, no worker exists, TF.js is not even loaded.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect((await hubStatus(hub)).workers).toEqual([]);
    expect(
      await frame.evaluate(() => ({ started: window.__embed?.started, worker: window.__worker })),
    ).toEqual({
      started: false,
      worker: undefined,
    });
    mkdirSync(SCREENSHOTS_DIR, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS_DIR}embed-card.png` });

    // A lower limit chosen on the card goes with the click.
    await card.getByTestId('cpu').fill('40');
    await card.getByTestId('start').click();
    await expect.poll(async () => (await hubStatus(hub)).workers.length, { timeout: 60_000 }).toBe(1);
    await expect
      .poll(async () => frame.evaluate(() => window.__worker?.status().steps ?? 0), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(5);
    const view = await frame.evaluate(() => window.__worker!.status());
    const limits = await frame.evaluate(() => window.__worker!.limits());
    console.log(`  in the iframe: ${describeTab(view)}; cpu ${limits.settings.cpu}%`);
    expect(view.phase).toBe('training');
    expect(limits.settings.cpu).toBe(40);
    await expect(card.getByTestId('embed-status')).toContainText('Training');
    await expect(card.getByRole('link', { name: 'Open the full worker page' })).toHaveAttribute(
      'href',
      `${hub.url}/worker`,
    );
    await page.screenshot({ path: `${SCREENSHOTS_DIR}embed-card-training.png` });
  } finally {
    await context.close();
    await new Promise((resolve) => site.server.close(resolve));
  }
});
