import { join } from 'node:path';
import { nodeArgsToRun } from '../processEntry.js';

/**
 * Set by the test runs' global setup (server/testing/globalBuild.ts) to a build of the server made
 * for the run: the processes tests spawn (the CLIs, the cluster's roles, the crash and resume runs)
 * then run the JavaScript that `npm start` runs instead of compiling the sources under tsx at every
 * start (~3 s a process on this machine; a cluster test starts several).
 */
export const TEST_BUILD_ENV = 'VOLUNTEER_TRAINER_TEST_BUILD';

/** The `node` arguments that run `source` (e.g. `server/main.ts`) in a test's child process. */
export function nodeArgsForTest(source: string): string[] {
  const build = process.env[TEST_BUILD_ENV];
  return build ? [join(build, source.replace(/\.ts$/, '.js'))] : nodeArgsToRun(source);
}
