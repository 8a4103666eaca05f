import { ErrorCode, HubError } from '../../../shared/errors.js';
import type { GradientPush, PushResult, WorkAssignment, WorkerRecord } from '../coordinatorTypes.js';
import type { ModeHost, TrainingStrategy } from './TrainingStrategy.js';
import { refuseWrongKind } from './updateKind.js';

export interface AsyncStepsOptions {
  /** Refuse gradients computed from weights more than this many updates old. */
  readonly maxStaleness?: number;
  /** Divide the learning rate by the gradient's staleness (when above 1). */
  readonly stalenessLr?: boolean;
}

/**
 * Async mode (Ray's parameter-server actor): every gradient is applied to its shards on arrival, with
 * the run's update rule; no rounds, no waiting. Each apply carries the push id, and each shard applies
 * a push id at most once, whichever coordinator sends it.
 */
export class AsyncSteps implements TrainingStrategy {
  readonly openRound = null;

  constructor(
    private readonly host: ModeHost,
    private readonly options: AsyncStepsOptions,
  ) {}

  activate(): void {}

  async deactivate(): Promise<void> {}

  joined(): void {}

  withdraw(): void {}

  refused(): void {}

  nextWork(): Promise<WorkAssignment> {
    return Promise.resolve({});
  }

  async push(worker: WorkerRecord, push: GradientPush, trust: number): Promise<PushResult> {
    refuseWrongKind('async', push);
    const { host } = this;
    let staleness = 0;
    for (const index of push.piecesByShard.keys()) {
      staleness = Math.max(staleness, host.shardVersion(index) - (push.versions[index] ?? 0));
    }
    const { maxStaleness, stalenessLr } = this.options;
    if (maxStaleness !== undefined && staleness > maxStaleness) {
      throw new HubError(
        ErrorCode.TooStale,
        `gradient is ${staleness} updates stale (limit ${maxStaleness}); pull fresh weights`,
      );
    }
    // Staleness-aware learning rate (Zhang et al., IJCAI'16): a gradient s updates old moves 1/s as far.
    const lrScale = (stalenessLr && staleness > 1 ? 1 / staleness : 1) * trust;
    const replies = await Promise.all(
      [...push.piecesByShard].map(([index, pieces]) =>
        host.shards[index].ask({ type: 'apply', pushId: push.pushId, pieces, lrScale }).then((reply) => {
          // A repeat's version is the one its first apply produced, not the shard's current one.
          if (!reply.duplicate) host.noteShardVersion(index, reply.version);
          return reply;
        }),
      ),
    );
    // Every shard had applied this push id already (a worker's retry at a coordinator that took over
    // from the one that applied it): the run counted it then. Fresh on some shard (the other
    // coordinator died between its shards): it counts now, once.
    if (replies.length > 0 && replies.every((reply) => reply.duplicate)) {
      return { globalStep: host.globalStep(), staleness, duplicate: true };
    }
    host.countStaleness(staleness);
    host.credit(worker, push.examples);
    return { globalStep: host.applied(push.examples, push.loss), staleness };
  }

  dropForReset(): void {}

  close(): void {}
}
