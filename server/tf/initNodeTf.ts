import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmConv2DBackpropFilter } from '../../shared/tf/wasmConv2DBackpropFilter.js';

export type NodeTfBackend = 'wasm' | 'cpu';

/** The binary the wasm backend loads in Node (Node never gets the threaded build: tfjs issue #3830). */
const WASM_BINARY = 'tfjs-backend-wasm-simd.wasm';

/**
 * Folder holding the wasm binaries, with a trailing separator (setWasmPaths takes a prefix).
 * Resolved from this module rather than the working directory, so it works under tsx, vitest and
 * inside a worker_threads Worker alike. The package's `main` is `dist/tf-backend-wasm.node.js`.
 */
function wasmDistDir(): string {
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return dirname(main) + sep;
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Runs `fn` and removes the process listeners it added. The wasm module's Emscripten glue installs
 * `uncaughtException` / `unhandledRejection` listeners that only rethrow: any later uncaught error
 * in the process then crashes with a dump of the 50 kB minified glue line instead of its own stack,
 * and test runners lose their own unhandled-error reporting. Removing them restores Node's defaults
 * (which also crash on both, with a readable trace).
 */
async function withoutEmscriptenProcessHandlers<T>(fn: () => Promise<T>): Promise<T> {
  // Through the plain EventEmitter interface: process's typed overloads take one literal event each.
  const emitter: NodeJS.EventEmitter = process;
  type Listener = (...args: unknown[]) => void;
  const listenersOf = (event: string): Listener[] => emitter.listeners(event) as Listener[];
  const before = new Map(PROCESS_EVENTS.map((event) => [event, new Set(listenersOf(event))]));
  try {
    return await fn();
  } finally {
    for (const event of PROCESS_EVENTS) {
      const existing = before.get(event);
      for (const listener of listenersOf(event)) {
        if (!existing?.has(listener)) emitter.removeListener(event, listener);
      }
    }
  }
}

let wasmPathsSet = false;
/** Serialises calls: two concurrent tf.setBackend('wasm') would start two wasm modules. */
let queue: Promise<unknown> = Promise.resolve();

async function init(backend: NodeTfBackend): Promise<string> {
  registerWasmConv2DBackpropFilter();
  if (backend === 'wasm' && !wasmPathsSet) {
    const dir = wasmDistDir();
    if (!existsSync(join(dir, WASM_BINARY))) {
      throw new Error(
        `TF.js wasm backend: ${WASM_BINARY} not found in ${dir}. ` +
          `Reinstall @tensorflow/tfjs-backend-wasm (npm install) at the same version as @tensorflow/tfjs.`,
      );
    }
    setWasmPaths(dir);
    wasmPathsSet = true;
  }
  // Cheap when `backend` is already the active, initialised backend.
  const ok = await withoutEmscriptenProcessHandlers(() => tf.setBackend(backend));
  if (!ok) {
    throw new Error(
      backend === 'wasm'
        ? `TF.js wasm backend failed to initialise from ${wasmDistDir()} (tfjs printed the cause above). ` +
            `Check that @tensorflow/tfjs-backend-wasm and @tensorflow/tfjs are installed at the same ` +
            `version and that this Node supports WebAssembly SIMD; initNodeTf('cpu') works without wasm ` +
            `but is ~100x slower.`
        : `TF.js backend '${backend}' failed to initialise (tfjs printed the cause above).`,
    );
  }
  await tf.ready();
  return tf.getBackend();
}

/**
 * Makes TF.js usable in Node: the wasm backend (default; its binaries are loaded from the installed
 * package on disk) plus the Conv2DBackpropFilter kernel that wasm lacks, or the pure-JS cpu backend.
 * Idempotent and safe to call repeatedly or concurrently; resolves to the active backend's name.
 *
 * The cpu backend prints a one-off "install tfjs-node" hint in Node; tfjs has no flag for that hint
 * alone (it keys off IS_NODE, which also selects the Node platform), so it is left alone.
 */
export function initNodeTf(backend: NodeTfBackend = 'wasm'): Promise<string> {
  const result = queue.then(() => init(backend));
  queue = result.catch(() => undefined);
  return result;
}
