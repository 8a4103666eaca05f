import { connect, type NatsConnection } from '@nats-io/transport-node';
import { shardRanges, type ShardRange } from '../../shared/layout.js';
import type { ModelName } from '../../shared/models.js';
import { ShardActor, type ShardMessage } from '../actors/ShardActor.js';
import type { AggregationRule } from '../aggregation/robustAggregate.js';
import { CheckpointScheduler } from '../checkpoints/CheckpointScheduler.js';
import { CheckpointStore } from '../checkpoints/CheckpointStore.js';
import { restoredSettings } from '../checkpoints/resumeRule.js';
import type { SyncLrScaling } from '../optimizers/syncLrScaling.js';
import { createUpdateRule, type OptimizerName } from '../optimizers/updateRules.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { initialFlatWeights } from '../initialWeights.js';
import { ShardTimeoutError, ShardUnavailableError } from './clusterErrors.js';
import { NatsShardHost } from './NatsShardHost.js';
import { NatsShardRef } from './NatsShardRef.js';
import {
  checkShardCompatible,
  decodeShardCheckpoint,
  encodeShardCheckpoint,
  shardCheckpointDir,
  type SavedShard,
} from './shardCheckpoint.js';
import { DEFAULT_SUBJECT_PREFIX } from './subjects.js';

export interface ShardProcessOptions {
  /** e.g. nats://127.0.0.1:4222 */
  readonly natsUrl: string;
  readonly shardIndex: number;
  /** How many shards the run's flat vector is split into (shardRanges). */
  readonly shards: number;
  readonly model: ModelName;
  readonly optimizer: OptimizerName;
  /** Used on a fresh start; a restored shard keeps the rate it saved (the operator may have changed it). */
  readonly learningRate: number;
  /** Seeds the initial weights (see initialFlatWeights); the same seed gives every shard the same model. */
  readonly seed?: number;
  /** This shard keeps its checkpoints in `<checkpointDir>/shard-<index>/`. */
  readonly checkpointDir: string;
  /** Write a checkpoint this often while the shard changes; and a last one on close. */
  readonly checkpointEveryMs: number;
  /** Subjects are `<prefix>.shard.<index>`; default "ps". */
  readonly subjectPrefix?: string;
  /** Sync mode's aggregation rule; default 'mean'. */
  readonly aggregation?: AggregationRule;
  /** Sync mode: whether a round's rate is multiplied by its count of gradients; default 'auto'. */
  readonly syncLrScaling?: SyncLrScaling;
  /** Checkpoint files kept; default 3. */
  readonly keepCheckpoints?: number;
  readonly log?: (line: string) => void;
}

export interface RunningShard {
  readonly range: ShardRange;
  readonly subject: string;
  /** The checkpoint file it resumed from, or null for fresh weights. */
  readonly resumedFrom: string | null;
  /** Writes a checkpoint now (even when nothing changed); resolves to the file. */
  checkpointNow(): Promise<string>;
  /** Resolves (to the error, if any) when the NATS connection closes for good. */
  readonly closed: Promise<void | Error>;
  /** Stops serving (answering what it already received), writes a last checkpoint, disconnects. */
  close(): Promise<void>;
}

const DEFAULT_KEEP_CHECKPOINTS = 3;
/**
 * Messages that change nothing a checkpoint holds: reads, and a round's pending sums (a checkpoint
 * never has them; a shard restarted mid-round says not ready when the round closes).
 */
const KEEPS_CHECKPOINT = new Set<ShardMessage['type']>([
  'pull',
  'status',
  'checkpoint',
  'accumulate',
  'prepareRound',
  'dropRound',
]);
/** How long the start-up probe waits for another process serving the same shard. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * One shard actor as its own process (`--role shard`): its range of the model's initial weights, or
 * its newest valid checkpoint, served on NATS; its own checkpoints, periodically and on close.
 */
export async function runShardProcess(options: ShardProcessOptions): Promise<RunningShard> {
  const log = options.log ?? (() => undefined);
  const { shardIndex: index, shards } = options;
  if (!Number.isInteger(index) || index < 0 || index >= shards) {
    throw new RangeError(`shard index ${index} is outside 0..${shards - 1}`);
  }
  await initNodeTf();
  const { layout, weights } = await initialFlatWeights(options.model, options.seed);
  const range = shardRanges(layout.totalLength, shards)[index];

  const store = new CheckpointStore(
    shardCheckpointDir(options.checkpointDir, index),
    options.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS,
  );
  const { checkpoint, skipped } = await store.loadNewest(decodeShardCheckpoint);
  for (const { file, reason } of skipped) {
    log(`shard ${index}: checkpoint ${file} is damaged (${reason}); using the one before it`);
  }
  const saved = checkpoint?.value;
  if (checkpoint) {
    checkShardCompatible(
      checkpoint.value,
      { model: options.model, shards, optimizer: options.optimizer, ...range },
      checkpoint.file,
    );
  }
  let { learningRate } = restoredSettings(saved, { learningRate: options.learningRate }).settings;
  const actor = new ShardActor({
    index,
    offset: range.offset,
    initialWeights: saved?.shard.weights ?? weights.subarray(range.offset, range.offset + range.length),
    rule: createUpdateRule(options.optimizer),
    learningRate,
    aggregation: options.aggregation,
    syncLrScaling: options.syncLrScaling,
    restore: saved?.shard,
  });
  if (checkpoint) {
    log(
      `shard ${index}: resumed from ${checkpoint.file}: version ${checkpoint.value.shard.version}, ` +
        `learning rate ${learningRate}`,
    );
  }

  let connection: NatsConnection;
  try {
    // Reconnects for as long as it runs: a restarted nats-server must not end the shard.
    connection = await connect({
      servers: options.natsUrl,
      name: `shard-${index}`,
      maxReconnectAttempts: -1,
    });
  } catch (error) {
    throw new Error(`shard ${index}: cannot connect to NATS at ${options.natsUrl}: ${describe(error)}`, {
      cause: error,
    });
  }
  const subjectPrefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  try {
    await refuseIfAlreadyServed(connection, index, subjectPrefix);
  } catch (error) {
    await connection.close();
    throw error;
  }
  /** Something changed since the last checkpoint (an update, a reset, a new learning rate). */
  let dirty = false;
  const host = new NatsShardHost({
    connection,
    actor,
    subjectPrefix,
    onHandled: (message, reply) => {
      if (message.type === 'setLearningRate' && 'learningRate' in reply) learningRate = reply.learningRate;
      if (!KEEPS_CHECKPOINT.has(message.type)) dirty = true;
    },
    onError: (error) => log(`shard ${index}: ${describe(error)}`),
  });
  try {
    await host.ready();
  } catch (error) {
    await connection.close();
    throw error;
  }
  log(
    `shard ${index}/${shards}: serving floats [${range.offset}, +${range.length}) of ${options.model} ` +
      `on NATS subject ${host.subject} (${options.natsUrl})`,
  );

  // The state is captured synchronously between two messages.
  const write = async (): Promise<string> => {
    dirty = false;
    try {
      const state: SavedShard = {
        savedAt: Date.now(),
        model: options.model,
        shards,
        optimizer: options.optimizer,
        learningRate,
        shard: actor.receive({ type: 'checkpoint' }),
      };
      const file = await store.write(encodeShardCheckpoint(state), state.shard.version);
      log(`shard ${index}: checkpoint at version ${state.shard.version} -> ${file}`);
      return file;
    } catch (error) {
      dirty = true;
      log(`shard ${index}: checkpoint failed: ${describe(error)}`);
      throw error;
    }
  };
  const scheduler = new CheckpointScheduler(
    options.checkpointEveryMs,
    write,
    () => dirty,
    () => undefined,
  );
  const checkpointNow = (): Promise<string> => scheduler.writeNow();

  let closing: Promise<void> | null = null;
  return {
    range,
    subject: host.subject,
    resumedFrom: checkpoint?.file ?? null,
    checkpointNow,
    closed: connection.closed(),
    close: () =>
      (closing ??= (async () => {
        // Stop taking requests first, so that the last checkpoint holds every update answered.
        await host.close().catch((error: unknown) => log(`shard ${index}: ${describe(error)}`));
        try {
          await scheduler.close();
        } finally {
          if (!connection.isClosed()) await connection.drain().catch(() => connection.close());
        }
      })()),
  };
}

/**
 * Two processes serving one shard would both apply every update and drift apart unnoticed (a request
 * takes the first answer): refuse to start while another one answers on the subject (say, an old
 * process thought dead). Two started at the same moment are not caught.
 */
async function refuseIfAlreadyServed(
  connection: NatsConnection,
  index: number,
  subjectPrefix: string,
): Promise<void> {
  const probe = new NatsShardRef({ connection, index, subjectPrefix, timeoutMs: PROBE_TIMEOUT_MS });
  try {
    const status = await probe.ask({ type: 'status' });
    throw new ShardAlreadyRunningError(
      `shard ${index} is already served on NATS subject "${probe.subject}" (at version ${status.version}): ` +
        `stop that process first, or use another subject prefix for another run`,
    );
  } catch (error) {
    if (error instanceof ShardUnavailableError) return;
    if (error instanceof ShardTimeoutError) {
      throw new ShardAlreadyRunningError(
        `something subscribes to NATS subject "${probe.subject}" but does not answer: shard ${index} ` +
          `will not start beside it`,
      );
    }
    throw error;
  }
}

export class ShardAlreadyRunningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardAlreadyRunningError';
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
