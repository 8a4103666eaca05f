import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS } from './scripts/chromiumArgs.js';
import { findChromium, HOW_TO_GET_ONE } from './scripts/find-chromium.mjs';

// `npm run test:e2e` runs scripts/find-chromium.mjs first (it installs Chromium with apt when it may);
// this lookup only reads what is there.
const chromium = await findChromium();
if (chromium.path === null) throw new Error(`${chromium.problem}.\n${HOW_TO_GET_ONE}`);

export default defineConfig({
  testDir: 'e2e',
  // Builds the server once for the run: the cluster specs' processes run it (server/testing/testProcesses.ts).
  globalSetup: './server/testing/globalBuild.ts',
  // Two specs at a time, each with its own hub: one at a time left the 2 cores idle while tabs loaded,
  // probed, waited on deadlines or on a single tab's one-thread wasm (12.5 min here; two at a time
  // 6.6 min, all passing). What a spec measures is a ratio within that spec, never a time.
  workers: 2,
  fullyParallel: false,
  retries: 0,
  timeout: 5 * 60_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 960, height: 900 },
    launchOptions: { executablePath: chromium.path, args: [...CHROMIUM_ARGS] },
    screenshot: 'only-on-failure',
  },
});
