import type { ShardRef } from '../ShardRef.js';
import type {
  GradientPush,
  PushResult,
  RoundRecord,
  WorkAssignment,
  WorkerRecord,
} from '../coordinatorTypes.js';

/**
 * What a mode's strategy may use of the Coordinator: the shards, the registry (read only), and the
 * run's counters (through these calls only, so that every mode counts the same way).
 */
export interface ModeHost {
  readonly shards: readonly ShardRef[];
  readonly now: () => number;
  /** Workers registered now whose pushes the screen would not refuse: a round waits for these. */
  eligibleWorkers(): string[];
  /** Any worker registered at all. */
  hasWorkers(): boolean;
  /** The hub is shutting down: open no new round. */
  isClosed(): boolean;
  shardVersion(index: number): number;
  noteShardVersion(index: number, version: number): void;
  /** A push from `worker` of `examples` examples was accepted (its credit). */
  credit(worker: WorkerRecord, examples: number): void;
  /** The run's global step now. */
  globalStep(): number;
  /** An update of `examples` examples was applied to the weights: the global step advances. Returns it. */
  applied(examples: number, loss: number): number;
  recordRound(record: RoundRecord): void;
  /** Async mode: an applied push was this many updates stale. */
  countStaleness(staleness: number): void;
}

/**
 * One training mode: how pushes become updates. The Coordinator owns the registry, the push ledger,
 * leases, screening and the counters, and hands each screened push to the strategy of the run's
 * mode. A strategy's state changes happen synchronously inside each call; awaits only wait for shards.
 */
export interface TrainingStrategy {
  /** This mode has just become the run's (at start, or an admin switch): open a round if it has any. */
  activate(): void;
  /**
   * Another mode takes over: an open round is applied with what it has (or dropped when empty), and
   * pulls waiting for a round are answered `null` so that they ask the next mode.
   */
  deactivate(): Promise<void>;
  /** A worker registered; a round that has not really started may admit it. */
  joined(workerId: string): void;
  /** A worker left: a round stops waiting for it, its waiting pull is refused. */
  withdraw(workerId: string): void;
  /** The screen refused this worker's push: a round that has none from it stops waiting for one. */
  refused(workerId: string): void;
  /** What the worker's next pull carries; waits for a round it takes part in. `null`: ask again. */
  nextWork(workerId: string): Promise<WorkAssignment | null>;
  /** Applies or aggregates a screened push. `trust` scales its weight (1 without `--trust`). */
  push(worker: WorkerRecord, push: GradientPush, trust: number): Promise<PushResult>;
  /**
   * The run is being reset: an open round is dropped (its pushes refused), workers pull again; the
   * Coordinator calls `activate` once the shards hold the fresh weights.
   */
  dropForReset(): void;
  /** The hub is shutting down: everything waiting is refused with `error`. */
  close(error: Error): void;
  /** The open round's id, or null (always null for modes without rounds). */
  readonly openRound: number | null;
}
