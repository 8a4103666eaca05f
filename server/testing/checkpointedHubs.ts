import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import type { CheckpointOptions } from '../checkpoints/Checkpointer.js';
import type { HubOptions } from '../options.js';
import { startHub, type RunningHub } from '../startHub.js';
import { TEST_LISTEN } from './testHub.js';

/** Hubs that checkpoint into a folder of the test's own, started and stopped as a restart would. */
export interface CheckpointedHubs {
  /** This test's checkpoint folder (a new one for each test). */
  readonly dir: string;
  /** What the next start checkpoints with; a test may change it (e.g. `fresh: true`) between starts. */
  checkpoints: CheckpointOptions;
  /** Starts a hub on the folder; its log lines go into `log`. */
  start(options: HubOptions, log?: string[]): Promise<RunningHub>;
  /** Closes a hub (its last checkpoint included) before the test ends. */
  stop(hub: RunningHub): Promise<void>;
  /** Closes `client` after the test. */
  track(client: HubClient): HubClient;
}

/**
 * For a test file of restarts: before each test a new folder under the system's temporary one
 * (`prefix-…`, checkpoints kept: `keep`, written only when asked), after it every hub and client
 * closed and the folder removed.
 */
export function checkpointedHubsEach(prefix: string, keep: number): CheckpointedHubs {
  const running: RunningHub[] = [];
  const clients: HubClient[] = [];
  let dir = '';
  const hubs: CheckpointedHubs = {
    get dir() {
      return dir;
    },
    checkpoints: { dir, intervalMs: 600_000, keep, fresh: false },
    async start(options, log = []) {
      const listen = { ...TEST_LISTEN, log: (line: string) => log.push(line) };
      const hub = await startHub(options, listen, hubs.checkpoints);
      running.push(hub);
      return hub;
    },
    async stop(hub) {
      running.splice(running.indexOf(hub), 1);
      await hub.close();
    },
    track(client) {
      clients.push(client);
      return client;
    },
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    hubs.checkpoints = { dir, intervalMs: 600_000, keep, fresh: false };
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const hub of running.splice(0)) await hub.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  return hubs;
}
