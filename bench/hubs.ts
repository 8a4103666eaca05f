import type { HubOptions } from '../server/options.js';
import type { RunningHub } from '../server/startHub.js';
import { startTestHub } from '../server/testing/testHub.js';
import { ChildServer } from './ChildServer.js';

/**
 * Every bench hub runs with the hub's defaults (async, cnn, 2 shards, adam 0.001, batch 64; see
 * server/options.ts) except that its own periodic test evaluation is off: the phases that need test
 * accuracy ask for it themselves, the same way for both arms, and the others must not have an
 * evaluation thread wake up in the middle of a measurement.
 */
export const BENCH_HUB_DEFAULTS: Partial<HubOptions> = {
  evalIntervalMs: 3_600_000,
};

/** A hub in this process (127.0.0.1, port 0). Always `close()` it. */
export function startBenchHub(options: Partial<HubOptions> = {}): Promise<RunningHub> {
  return startTestHub({ ...BENCH_HUB_DEFAULTS, ...options });
}

/** A hub in a child process of its own (127.0.0.1, port 0). Always `close()` it. */
export function startChildHub(options: Partial<HubOptions> = {}): Promise<ChildServer> {
  return ChildServer.hub({ ...BENCH_HUB_DEFAULTS, ...options });
}

/** Runs `body` with `resource`, and closes it whatever happens. */
export async function using<R extends { close(): Promise<void> | void }, T>(
  resource: R | Promise<R>,
  body: (resource: R) => Promise<T>,
): Promise<T> {
  const opened = await resource;
  try {
    return await body(opened);
  } finally {
    await opened.close();
  }
}
