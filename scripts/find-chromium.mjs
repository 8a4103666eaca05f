#!/usr/bin/env node
/* global process, console */
// Finds the Chromium the end-to-end tests drive. Run by `npm run test:e2e` before Playwright (and
// imported by playwright.config.ts for the path). Order:
//   1. $CHROMIUM_PATH
//   2. Debian's chromium: /usr/lib/chromium/chromium (the binary itself), then /usr/bin/chromium (a shell
//      wrapper that adds Debian's default flags and extensions; Playwright passes its own)
//   3. a Playwright-managed Chromium, if one was installed (`npx playwright install chromium`)
// When none is found and this runs as root on Debian, it installs Debian's `chromium` with apt-get;
// otherwise it exits with a message saying how to get one.
import { aptInstall, canInstallWithApt, isExecutable, versionOf } from './debianPackage.mjs';
import { pathToFileURL } from 'node:url';

const DEBIAN_CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'];

async function playwrightManaged() {
  try {
    const { chromium } = await import('@playwright/test');
    const path = chromium.executablePath();
    return path && isExecutable(path) ? path : null;
  } catch {
    return null;
  }
}

/**
 * @returns {Promise<{ path: string, source: string } | { path: null, problem: string }>}
 */
export async function findChromium(env = process.env) {
  if (env.CHROMIUM_PATH) {
    return isExecutable(env.CHROMIUM_PATH)
      ? { path: env.CHROMIUM_PATH, source: 'CHROMIUM_PATH' }
      : {
          path: null,
          problem: `CHROMIUM_PATH is set to ${env.CHROMIUM_PATH}, which is not an executable file`,
        };
  }
  for (const path of DEBIAN_CANDIDATES) {
    if (isExecutable(path)) return { path, source: "Debian's chromium package" };
  }
  const managed = await playwrightManaged();
  if (managed) return { path: managed, source: 'Playwright-managed' };
  return { path: null, problem: 'no Chromium found' };
}

export const HOW_TO_GET_ONE = [
  'The end-to-end tests need Chromium. Any one of these works:',
  '  - point CHROMIUM_PATH at a Chromium or Chrome binary: CHROMIUM_PATH=/path/to/chrome npm run test:e2e',
  '  - Debian/Ubuntu: sudo apt-get install chromium   (this script does it by itself when run as root)',
  '  - a Playwright-managed build (a download): npx playwright install chromium',
].join('\n');

async function main() {
  let found = await findChromium();
  if (found.path === null && !process.env.CHROMIUM_PATH && canInstallWithApt()) {
    console.log(
      'find-chromium: no Chromium found; installing Debian\'s "chromium" with apt-get (about 600 MB)',
    );
    aptInstall('chromium', { updateFirst: true });
    found = await findChromium();
  }
  if (found.path === null) {
    console.error(`find-chromium: ${found.problem}.\n${HOW_TO_GET_ONE}`);
    process.exit(1);
  }
  console.log(`find-chromium: using ${found.path} (${found.source}; ${versionOf(found.path)})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
