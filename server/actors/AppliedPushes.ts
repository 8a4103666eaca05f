import type { AppliedPush } from './shardMessages.js';

/**
 * How many applied push ids a shard remembers. A repeat comes from a worker retrying its push after a
 * lost ack or at a coordinator that took over: seconds later, a few dozen pushes at most, far inside
 * this. Bounded so that memory and the checkpoint's header (about 50 bytes an id) stay small.
 */
export const APPLIED_PUSHES_KEPT = 4096;

/**
 * The push ids a shard applied most recently, with the version each produced: the shard's own
 * at-most-once, which holds across coordinators (a standby taking over knows nothing of what the
 * old one sent) and across its own restarts (kept in its checkpoint). The oldest go first.
 */
export class AppliedPushes {
  /** Maps iterate in insertion order: the first key is the oldest. */
  private readonly versions = new Map<string, number>();

  constructor(
    saved: readonly AppliedPush[] = [],
    private readonly capacity = APPLIED_PUSHES_KEPT,
  ) {
    for (const [pushId, version] of saved) this.remember(pushId, version);
  }

  /** The version the push produced when it was applied, or undefined when it was not (or long ago). */
  versionOf(pushId: string): number | undefined {
    return this.versions.get(pushId);
  }

  remember(pushId: string, version: number): void {
    this.versions.delete(pushId);
    this.versions.set(pushId, version);
    if (this.versions.size > this.capacity) this.versions.delete(this.versions.keys().next().value as string);
  }

  /** Oldest first, as a checkpoint keeps them. */
  list(): AppliedPush[] {
    return [...this.versions];
  }
}
