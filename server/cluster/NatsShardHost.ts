import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { ShardActor, ShardMessage } from '../actors/ShardActor.js';
import { NatsPayloadTooLargeError } from './clusterErrors.js';
import { decodeShardMessage, encodeShardError, encodeShardReply, type AnyShardReply } from './shardCodec.js';
import { DEFAULT_SUBJECT_PREFIX, shardSubject } from './subjects.js';

/** What the host needs of an actor (a ShardActor, or a wrapper around one). */
export type ShardReceiver = Pick<ShardActor, 'index' | 'receive'>;

export interface NatsShardHostOptions {
  readonly connection: NatsConnection;
  readonly actor: ShardReceiver;
  /** Subjects are `<prefix>.shard.<index>`; default "ps". */
  readonly subjectPrefix?: string;
  /** A message the actor handled; the reply is on its way. */
  readonly onHandled?: (message: ShardMessage, reply: AnyShardReply) => void;
  /** A message that could not be answered at all (no reply subject, or the transport failed). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Serves one shard actor on its NATS subject by request/reply: decodes each request, hands it to the
 * actor, and answers with the actor's reply or the error it threw (name and message). Requests are
 * handled one at a time, in the order NATS delivers them (the order each client sent them), as the
 * actor's mailbox requires.
 */
export class NatsShardHost {
  readonly subject: string;
  private readonly connection: NatsConnection;
  private readonly actor: ShardReceiver;
  private readonly subscription: Subscription;
  private readonly onHandled: NatsShardHostOptions['onHandled'];
  private readonly onError: (error: unknown) => void;
  /**
   * The mailbox: each request runs after the previous one finished. `receive` is synchronous today;
   * the chain keeps the order should it ever await.
   */
  private mailbox: Promise<void> = Promise.resolve();

  constructor(options: NatsShardHostOptions) {
    this.connection = options.connection;
    this.actor = options.actor;
    this.onHandled = options.onHandled;
    this.onError = options.onError ?? (() => undefined);
    this.subject = shardSubject(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX, options.actor.index);
    this.subscription = this.connection.subscribe(this.subject, {
      callback: (error, msg) => {
        if (error) {
          this.onError(error);
          return;
        }
        this.mailbox = this.mailbox.then(() => this.handle(msg));
      },
    });
  }

  /** Resolves once the server knows the subscription: a request sent after this finds the shard. */
  ready(): Promise<void> {
    return this.connection.flush();
  }

  /** Stops taking requests; those already received are answered first. */
  async close(): Promise<void> {
    if (!this.subscription.isClosed()) await this.subscription.drain();
    await this.mailbox;
  }

  private async handle(msg: Msg): Promise<void> {
    if (!msg.reply) {
      // A plain publish expects no answer; an update nobody waits for would only be a surprise.
      this.onError(new Error(`${this.subject}: ignored a message without a reply subject`));
      return;
    }
    let reply: Uint8Array;
    try {
      const message = decodeShardMessage(msg.data);
      const answer = await this.actor.receive(message);
      reply = this.fitting(encodeShardReply(answer), `the reply to "${message.type}"`);
      this.onHandled?.(message, answer);
    } catch (error) {
      reply = encodeShardError(error);
    }
    try {
      msg.respond(reply);
    } catch (error) {
      this.onError(error);
    }
  }

  /** The reply, or an error reply saying which max_payload it needs when the server would refuse it. */
  private fitting(reply: Uint8Array, what: string): Uint8Array {
    const max = this.connection.info?.max_payload;
    if (max === undefined || reply.byteLength <= max) return reply;
    return encodeShardError(
      new NatsPayloadTooLargeError(this.actor.index, this.subject, what, reply.byteLength, max),
    );
  }
}
