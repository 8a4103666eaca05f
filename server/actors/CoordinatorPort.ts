import type { TrainingMode } from '../../shared/protocol.js';
import type { LeasedUnit } from '../data/UnitPool.js';
import type { GradientPush, PushResult, WorkAssignment, WorkerInfo } from './coordinatorTypes.js';

/** A value now (the Coordinator in this process) or after a round trip (a coordinator over NATS). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * What a worker gateway needs of the coordinator: the Coordinator itself in an embedded hub or a
 * coordinator process, a RemoteCoordinator (server/cluster) in a `--role gateway` process. The
 * synchronous members are answered from the gateway's own knowledge there (its workers, and the
 * coordinator's mode, pause and global step as last broadcast), so the gateway's checks run unchanged.
 */
export interface CoordinatorPort {
  readonly mode: TrainingMode;
  join(info: WorkerInfo): MaybePromise<string>;
  leave(workerId: string): void;
  /** A sign of life from the worker; false when it is not registered. */
  touch(workerId: string): boolean;
  /** Throws PAUSED while the operator has paused training. */
  requireRunning(): void;
  noteRefusal(workerId: string | undefined, code: string): void;
  /** A shard's version as a pull just read it (what staleness is counted from). */
  noteShardVersion(index: number, version: number): void;
  batchSizeFor(workerId: string): number | undefined;
  /** Sync and local mode: the round (and local plan) of the worker's next pull; waits for one. */
  nextWork(workerId: string): Promise<WorkAssignment>;
  push(workerId: string, push: GradientPush): Promise<PushResult>;
  leaseUnit(workerId: string): MaybePromise<LeasedUnit>;
  completeUnit(workerId: string, unitId: number): MaybePromise<number>;
  /** The global step (at a gateway process: as last heard from the coordinator). */
  status(): { readonly globalStep: number };
}
