import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'server/**/*.test.ts', 'client/**/*.test.ts', 'bench/**/*.test.ts'],
    // Two files at a time: a third of a one-at-a-time run was idle CPU (tests waiting on sockets,
    // child processes and round deadlines): 633 s one at a time, 468 s two at a time, here. The
    // heaviest files split their own work across threads (server/testing/testThreads.ts).
    fileParallelism: true,
    maxWorkers: 2,
    // Builds the server once for the run: the processes tests spawn run it (server/testing/testProcesses.ts).
    globalSetup: ['server/testing/globalBuild.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
