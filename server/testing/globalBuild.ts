import { rm } from 'node:fs/promises';
import { buildServer } from '../../scripts/build-server.mjs';
import { TEST_BUILD_ENV } from './testProcesses.js';

/**
 * Global setup of both test runners (vitest.config.ts, playwright.config.ts): builds the server once
 * for the run, as `npm start` does (under a folder of dist/ of its own, inside the repository so that
 * the built modules find node_modules), and points the processes tests spawn at it
 * (testProcesses.ts). Under a second: esbuild transpiles each file on its own. Returns the teardown,
 * which removes the build.
 */
export default async function buildServerForTests(): Promise<() => Promise<void>> {
  const { outdir } = await buildServer(`dist/test-run-${process.pid}`);
  process.env[TEST_BUILD_ENV] = outdir;
  return async () => {
    delete process.env[TEST_BUILD_ENV];
    await rm(outdir, { recursive: true, force: true });
  };
}
