import type { PushResult, RoundRecord } from '../coordinatorTypes.js';

/** A push a round (or buffer) counts: its id, and the shards it was accumulated on. */
export interface Contribution {
  readonly pushId: string;
  readonly shards: Iterable<number>;
}

export interface RoundOptions {
  /** A round closes with what it has this long after it opened. */
  readonly roundTimeoutMs: number;
  /**
   * A round closes after this many pushes; later ones (backup workers) are dropped. Undefined: one
   * from every worker registered when the round opened.
   */
  readonly replicasToAggregate?: number;
}

/** A round as the strategies see it while it closes. */
export interface Round {
  readonly id: number;
  /** Workers the round waits for: those registered at its opening, and newcomers it admitted. */
  readonly participants: Set<string>;
  waitedFor: number;
  readonly openedAt: number;
  /**
   * The pushes the round accepted, by worker id: their push ids are what every shard must hold when
   * the round closes. A push is here from before its accumulate is sent until that fails.
   */
  readonly received: Map<string, Contribution>;
  /** Accumulates under way; each settles once its push's bookkeeping is done (a close waits for them). */
  readonly accumulating: Set<Promise<unknown>>;
  readonly waiting: { resolve: (result: PushResult) => void; reject: (error: Error) => void }[];
  examples: number;
  lossSum: number;
  closing: boolean;
  deadline: ReturnType<typeof setTimeout>;
  /** When the deadline fires, ms since the epoch. */
  deadlineAt: number;
}

/** What closing a round did to the shards, and what the round's record adds for its kind. */
export interface AppliedRound {
  readonly versions: readonly number[];
  readonly record?: Partial<Pick<RoundRecord, 'changeNorm' | 'localSteps'>>;
}
