import { afterEach } from 'vitest';
import { DEFAULT_HUB_OPTIONS, type HubOptions } from '../../options.js';
import {
  closeOpenedCluster,
  newOpenedCluster,
  spawnOpenedShard,
  type OpenedCluster,
} from './openedCluster.js';
import type { ShardCli } from './shardCli.js';

/**
 * Lists to put what a test opens in; after each test everything is closed (closeOpenedCluster).
 */
export function openedClusterAfterEach(): OpenedCluster {
  const opened = newOpenedCluster();
  afterEach(() => closeOpenedCluster(opened));
  return opened;
}

/** The cluster tests' run: cnn, async, an evaluation every 2 s on the whole test set. */
export function clusterHubOptions(shards: number, overrides: Partial<HubOptions> = {}): HubOptions {
  return {
    ...DEFAULT_HUB_OPTIONS,
    mode: 'async',
    model: 'cnn',
    shards,
    evalIntervalMs: 2_000,
    evalExamples: 10_000,
    // A restarted shard's version goes back to its checkpoint's: staleness must be counted from
    // there, or every later gradient would be refused as TOO_STALE.
    maxStaleness: 4,
    ...overrides,
  };
}

/** A `--role shard` process of the tests' run (cnn, seed 7, a checkpoint every 0.5 s), closed after the test. */
export function spawnTestShard(
  opened: OpenedCluster,
  options: { natsUrl: string; index: number; shards: number; checkpointDir: string; subjectPrefix: string },
): Promise<ShardCli> {
  return spawnOpenedShard(opened, {
    ...options,
    args: ['--model', 'cnn', '--seed', '7', '--checkpoint-secs', '0.5'],
  });
}
