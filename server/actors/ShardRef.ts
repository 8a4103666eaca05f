import type { ShardActor, ShardMessage, ShardReply } from './ShardActor.js';

/**
 * How everything else talks to a shard: by message, asynchronously. In one process the message runs
 * on the actor at once; a shard in another process gets the same interface over a messaging engine.
 */
export interface ShardRef {
  readonly index: number;
  ask<M extends ShardMessage>(message: M): Promise<ShardReply<M>>;
}

export class LocalShardRef implements ShardRef {
  constructor(private readonly actor: ShardActor) {}

  get index(): number {
    return this.actor.index;
  }

  ask<M extends ShardMessage>(message: M): Promise<ShardReply<M>> {
    try {
      // Runs synchronously: a caller that asks several shards in one turn of the event loop sees them
      // all updated before any other message (or timer) is handled.
      return Promise.resolve(this.actor.receive(message));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
