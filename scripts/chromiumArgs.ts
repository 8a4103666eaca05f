/**
 * Launch arguments for every headless Chromium the project drives (Playwright's end-to-end tests and
 * `npm run bench`): quiet (no background networking, component updates or sync), no first-run work,
 * no QUIC, and WebGPU enabled (SwiftShader here). Choices, not measurements (docs/architecture.md,
 * "Figures the code cited without a measurement in the repository"). Never `--user-data-dir` here:
 * Playwright throws on it. A module of its own so that importing the list has no side effects
 * (playwright.config.ts looks for a Chromium as it loads).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];
