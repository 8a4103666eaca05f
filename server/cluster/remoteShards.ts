import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { ShardMessage, ShardReply } from '../actors/ShardActor.js';
import type { ShardRef } from '../actors/ShardRef.js';
import type { ShardStatus } from '../actors/ShardActor.js';
import { NatsPayloadTooLargeError, ShardTimeoutError, ShardUnavailableError } from './clusterErrors.js';
import { NatsShardRef } from './NatsShardRef.js';
import { DEFAULT_SUBJECT_PREFIX } from './subjects.js';

/**
 * How long the coordinator waits for a shard's answer: well below a worker's ack timeout (30 s), so
 * that a worker hears SHARD_UNAVAILABLE and retries instead of timing out itself. A shard answers a
 * 4 MB apply in tens of ms.
 */
export const COORDINATOR_SHARD_TIMEOUT_MS = 10_000;
/** How long a starting coordinator waits for every shard process to answer. */
const DEFAULT_WAIT_FOR_SHARDS_MS = 60_000;
const PROBE_EVERY_MS = 500;
/** Room for a shard message's header (JSON) beside its floats, in bytes. */
const FRAME_HEADER_BYTES = 4096;

/**
 * A remote shard as the hub's actors and gateway see it: a shard that does not answer (its process
 * was killed or is restarting) is a named, retryable refusal (SHARD_UNAVAILABLE) for the worker that
 * asked, not an internal error; the hub's log says once when the shard went away and once when it
 * answers again. Any other error (the actor's own) passes through unchanged.
 */
export class RetryableShardRef implements ShardRef {
  private down = false;

  constructor(
    private readonly ref: ShardRef,
    private readonly log: (line: string) => void,
  ) {}

  get index(): number {
    return this.ref.index;
  }

  async ask<M extends ShardMessage>(message: M): Promise<ShardReply<M>> {
    let reply: ShardReply<M>;
    try {
      reply = await this.ref.ask(message);
    } catch (error) {
      if (!(error instanceof ShardUnavailableError || error instanceof ShardTimeoutError)) throw error;
      if (!this.down) {
        this.down = true;
        this.log(
          `hub: ${error.message.replace(/\.$/, '')}; workers are refused with SHARD_UNAVAILABLE and retry`,
        );
      }
      // For volunteers: no subjects or process names (internal details), only what happens next.
      throw new HubError(
        ErrorCode.ShardUnavailable,
        `shard ${this.index} is not answering (its process may be restarting); the worker will pull again ` +
          `and retry in a moment`,
      );
    }
    if (this.down) {
      this.down = false;
      this.log(`hub: shard ${this.index} answers again`);
    }
    return reply;
  }
}

export interface RemoteShardsOptions {
  /** e.g. nats://127.0.0.1:4222 */
  readonly natsUrl: string;
  /** How many shard processes the run has (indices 0..shards-1). */
  readonly shards: number;
  /** Subjects are `<prefix>.shard.<index>`; default "ps". */
  readonly subjectPrefix?: string;
  /** How long to wait for every shard to answer before giving up; default 60 s. */
  readonly waitForShardsMs?: number;
  readonly log?: (line: string) => void;
}

export interface RemoteShards {
  /** One per shard, in index order: what createHub takes as `deps.remoteShards`. */
  readonly refs: readonly ShardRef[];
  readonly connection: NatsConnection;
  /** Drains the NATS connection (after the hub closed). */
  close(): Promise<void>;
}

/**
 * The shard processes of a run, for a coordinator: connects to NATS (reconnecting for as long as the
 * coordinator runs) and waits until every shard answers, so that a coordinator started before its
 * shards simply waits for them. Shards that stop answering later are SHARD_UNAVAILABLE refusals.
 */
export async function connectRemoteShards(options: RemoteShardsOptions): Promise<RemoteShards> {
  const log = options.log ?? (() => undefined);
  let connection: NatsConnection;
  try {
    connection = await connect({ servers: options.natsUrl, name: 'coordinator', maxReconnectAttempts: -1 });
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${options.natsUrl}: ${describe(error)}`, { cause: error });
  }
  const subjectPrefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  const nats = Array.from(
    { length: options.shards },
    (_, index) =>
      new NatsShardRef({ connection, index, subjectPrefix, timeoutMs: COORDINATOR_SHARD_TIMEOUT_MS }),
  );
  try {
    const statuses = await waitForShards(nats, options.waitForShardsMs ?? DEFAULT_WAIT_FOR_SHARDS_MS, log);
    checkMaxPayload(connection, nats, statuses);
  } catch (error) {
    await connection.close();
    throw error;
  }
  return {
    refs: nats.map((ref) => new RetryableShardRef(ref, log)),
    connection,
    close: async () => {
      if (!connection.isClosed()) await connection.drain().catch(() => connection.close());
    },
  };
}

/** Resolves to every shard's status once each has answered. */
async function waitForShards(
  refs: readonly NatsShardRef[],
  waitMs: number,
  log: (line: string) => void,
): Promise<ShardStatus[]> {
  const deadline = Date.now() + waitMs;
  const statuses: ShardStatus[] = [];
  let reported = '';
  for (;;) {
    const missing: NatsShardRef[] = [];
    for (const ref of refs) {
      if (statuses[ref.index]) continue;
      try {
        statuses[ref.index] = await ref.ask({ type: 'status' });
      } catch (error) {
        if (!(error instanceof ShardUnavailableError || error instanceof ShardTimeoutError)) throw error;
        missing.push(ref);
      }
    }
    if (missing.length === 0) return statuses;
    const names = missing.map((ref) => `${ref.index} (${ref.subject})`).join(', ');
    if (Date.now() >= deadline) {
      throw new ShardsMissingError(
        `no answer from shard(s) ${names} within ${Math.round(waitMs / 1000)} s: start them with ` +
          `--role shard --shard-index <i> and the same --nats, --shards, --model and --subject-prefix`,
      );
    }
    if (names !== reported) log(`hub: waiting for shard(s) ${names} to answer on NATS`);
    reported = names;
    await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
  }
}

/**
 * Every push and pull carries a whole shard in one NATS message: a server left at its 1 MB default
 * `max_payload` would refuse them all once workers come. Said at start, with the value to set.
 */
function checkMaxPayload(
  connection: NatsConnection,
  refs: readonly NatsShardRef[],
  statuses: readonly ShardStatus[],
): void {
  const max = connection.info?.max_payload;
  if (max === undefined) return;
  const biggest = statuses.reduce((a, b) => (b.length > a.length ? b : a));
  const bytes = biggest.length * 4 + FRAME_HEADER_BYTES;
  if (bytes > max) {
    throw new NatsPayloadTooLargeError(
      biggest.index,
      refs[biggest.index].subject,
      'a push or pull',
      bytes,
      max,
    );
  }
}

export class ShardsMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardsMissingError';
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
