import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'server/**/*.test.ts', 'client/**/*.test.ts', 'bench/**/*.test.ts'],
    // TF.js wasm and real MNIST training are CPU-heavy on a 2-core machine: run files one at a time.
    fileParallelism: false,
    // Builds the server once for the run: the processes tests spawn run it (server/testing/testProcesses.ts).
    globalSetup: ['server/testing/globalBuild.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
