/**
 * Launch arguments for every headless Chromium the project drives (Playwright's end-to-end tests and
 * `npm run bench`). Measured on this machine: quiet, no first-run work, and WebGPU (SwiftShader here) enabled. Never
 * `--user-data-dir` here: Playwright throws on it. A module of its own so that importing the list has
 * no side effects (playwright.config.ts looks for a Chromium as it loads).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];
