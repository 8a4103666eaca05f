/**
 * Seeds of the Coordinator fuzz tests that once failed, replayed on every run whatever seed range the
 * fuzz itself covers. A seed means something only to the fuzz (and options) it was found with: when a
 * fuzz's operation mix changes, re-check its entries and keep the ones that still reach the case.
 *
 * `open` names a bug not fixed yet: the entry is replayed as `it.fails`, so it starts failing the run
 * (and asks to be moved to the fixed list) as soon as the fix lands.
 */
export type CoordinatorFuzz =
  /** Coordinator.test.ts: one operation per turn, against the exact model of sync rounds. */
  | 'sync'
  /** Coordinator.test.ts: several operations per turn, shards answering at once. */
  | 'syncConcurrent'
  /** Coordinator.churn.test.ts: shards answering late, in a seeded order. */
  | 'syncSlow'
  /** Coordinator.churn.test.ts: async pushes against the staleness model. */
  | 'async';

export interface CoordinatorFuzzRegression {
  readonly fuzz: CoordinatorFuzz;
  readonly seed: number;
  /** The options the seed failed with (the fuzz's own defaults otherwise). */
  readonly replicasToAggregate?: number;
  readonly maxStaleness?: number;
  readonly stalenessLr?: boolean;
  readonly slowShards?: boolean;
  /** Async fuzz: pushes may cover some of the shards only. */
  readonly partialPushes?: boolean;
  /** What the failure was. */
  readonly found: string;
  /** Set while the bug is not fixed: why it still fails. */
  readonly open?: string;
}

export const COORDINATOR_FUZZ_REGRESSIONS: readonly CoordinatorFuzzRegression[] = [
  {
    fuzz: 'syncConcurrent',
    seed: 1,
    found: 'two gradients pushed in the same tick both closed the round: globalStep +2, shards applied once',
  },
  {
    fuzz: 'syncConcurrent',
    seed: 2,
    replicasToAggregate: 1,
    found: 'round 11 averaged 2 gradients with replicasToAggregate 1',
  },
  {
    fuzz: 'syncConcurrent',
    seed: 3,
    replicasToAggregate: 2,
    found: 'round 9 averaged 4 gradients with replicasToAggregate 2',
  },
  {
    fuzz: 'syncSlow',
    seed: 1,
    replicasToAggregate: 1,
    found: 'round 6 averaged 2 gradients with replicasToAggregate 1 (shards answering late)',
  },
  {
    fuzz: 'async',
    seed: 3,
    maxStaleness: 3,
    stalenessLr: false,
    slowShards: true,
    partialPushes: true,
    found: 'a push reported staleness 2 where 3 updates had been applied since its pull',
  },
];
