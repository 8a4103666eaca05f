import { startHub } from '../server/startHub.js';
import { TEST_LISTEN } from '../server/testing/testHub.js';
import { DEFAULT_HUB_OPTIONS } from '../server/options.js';
import { describeTab, expect, hubStatus, test, waitForSteps } from './fixtures.js';

test('a tab reconnects with backoff when the hub goes away and comes back', async ({ openWorker }) => {
  const options = {
    ...DEFAULT_HUB_OPTIONS,
    mode: 'async' as const,
    evalIntervalMs: 60_000,
    evalExamples: 1_000,
  };
  const first = await startHub(options, TEST_LISTEN);
  let firstClosed = false;
  let second: Awaited<ReturnType<typeof startHub>> | null = null;
  try {
    const tab = await openWorker(first.url, { backend: 'wasm' });
    const before = await waitForSteps(tab, 5);

    await first.close();
    firstClosed = true;
    await expect.poll(async () => (await tab.status()).phase, { intervals: [100] }).toBe('reconnecting');
    await tab.screenshot('worker-reconnecting');
    // Stay away for a few seconds: the tab keeps knocking, with growing pauses in between.
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    // The same address again: the tab retries on its own (socket.io's backoff: 0.5 s doubling to 5 s).
    second = await startHub(options, { host: '127.0.0.1', port: first.port });
    const after = await waitForSteps(tab, before.steps + 5, 60_000);
    console.log(`  ${describeTab(after)}; ${after.connections} connections`);
    expect(after.phase).toBe('training');
    expect(after.connections).toBe(before.connections + 1);
    expect((await hubStatus(second)).workers.map((w) => w.id)).toEqual([after.workerId]);
    // Either the client's own reconnect carried the session over ("reconnected as"), or the request in
    // flight was one it does not retry (unit:complete) and the page's loop joined afresh.
    const log = after.events.map((e) => e.text).join('\n');
    expect(log).toMatch(
      /lost the hub \(.*\); reconnecting\n(.*\n)*.*(reconnected as|joined the hub as) w\d+/,
    );
  } finally {
    if (!firstClosed) await first.close();
    await second?.close();
  }
});
