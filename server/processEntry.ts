import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The root the running code was loaded from: the repository when it runs from the TypeScript
 * sources, the build folder (dist/) when it runs built (scripts/build-server.mjs keeps the layout).
 */
const LOADED_FROM = fileURLToPath(new URL('../', import.meta.url));
const RUNNING_BUILT = !import.meta.url.endsWith('.ts');

/**
 * The `node` arguments that run a module of the repository (`server/main.ts`, as written in the
 * sources) in a new process, the way this process runs: the built server starts the module's built
 * JavaScript beside itself; the sources start it under tsx's loader (Node itself with `--import
 * tsx` rather than the tsx CLI, whose script runs in a grandchild that a SIGKILL of the CLI would
 * leave behind). A process from the sources pays ~3 s more to start: tsx compiles the modules again.
 */
export function nodeArgsToRun(source: string): string[] {
  return RUNNING_BUILT
    ? [join(LOADED_FROM, source.replace(/\.ts$/, '.js'))]
    : ['--import', 'tsx', join(LOADED_FROM, source)];
}
