import { RequestError, TimeoutError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { ShardMessage, ShardReply } from '../actors/ShardActor.js';
import type { ShardRef } from '../actors/ShardRef.js';
import { NatsPayloadTooLargeError, ShardTimeoutError, ShardUnavailableError } from './clusterErrors.js';
import { decodeShardReplyFrame, encodeShardMessage, remoteError } from './shardCodec.js';
import { DEFAULT_SUBJECT_PREFIX, shardSubject } from './subjects.js';

/** Long enough for a whole-model message on a slow link; a shard answers a 4 MB apply in tens of ms. */
export const DEFAULT_SHARD_TIMEOUT_MS = 30_000;

export interface NatsShardRefOptions {
  readonly connection: NatsConnection;
  readonly index: number;
  /** Subjects are `<prefix>.shard.<index>`; default "ps". */
  readonly subjectPrefix?: string;
  readonly timeoutMs?: number;
}

/**
 * A shard in another process, asked over NATS request/reply. Replies come back in the order asked
 * (NATS keeps one connection's order and the host answers one at a time), but unlike LocalShardRef
 * an answer always takes a round trip: several shards asked in one turn are not updated in one turn.
 *
 * A request that times out may still have been applied: the caller cannot tell (at most once).
 */
export class NatsShardRef implements ShardRef {
  readonly index: number;
  readonly subject: string;
  private readonly connection: NatsConnection;
  private readonly timeoutMs: number;

  constructor(options: NatsShardRefOptions) {
    this.connection = options.connection;
    this.index = options.index;
    this.subject = shardSubject(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX, options.index);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SHARD_TIMEOUT_MS;
  }

  async ask<M extends ShardMessage>(message: M): Promise<ShardReply<M>> {
    const bytes = encodeShardMessage(message);
    const max = this.connection.info?.max_payload;
    if (max !== undefined && bytes.byteLength > max) {
      throw new NatsPayloadTooLargeError(
        this.index,
        this.subject,
        `the "${message.type}" message`,
        bytes.byteLength,
        max,
      );
    }
    let reply: Msg;
    try {
      reply = await this.connection.request(this.subject, bytes, { timeout: this.timeoutMs });
    } catch (error) {
      throw this.explain(error, message.type);
    }
    const frame = decodeShardReplyFrame(reply.data);
    if (!frame.ok) throw remoteError(frame.error);
    return frame.reply as ShardReply<M>;
  }

  private explain(error: unknown, messageType: string): Error {
    if (error instanceof RequestError && error.isNoResponders()) {
      return new ShardUnavailableError(this.index, this.subject);
    }
    if (error instanceof TimeoutError) {
      return new ShardTimeoutError(this.index, this.subject, messageType, this.timeoutMs);
    }
    const text = error instanceof Error ? error.message : String(error);
    return new Error(
      `shard ${this.index} on NATS subject "${this.subject}": ${messageType} failed: ${text}`,
      {
        cause: error,
      },
    );
  }
}
