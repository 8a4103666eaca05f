import { DEFAULT_MODEL, type ModelName } from '../shared/models.js';
import type { Compression, OuterOptimizerName, TrainingMode } from '../shared/protocol.js';
import type { OuterStep } from './actors/ShardActor.js';
import type { AggregationRule } from './aggregation/robustAggregate.js';
import type { SyncLrScaling } from './optimizers/syncLrScaling.js';
import type { OptimizerName } from './optimizers/updateRules.js';

/** Everything that configures a run. The CLI (main.ts) fills it from flags; tests build it directly. */
export interface HubOptions {
  readonly mode: TrainingMode;
  readonly model: ModelName;
  /** Parameter-server shards the flat weight vector is split into. */
  readonly shards: number;
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  /** Examples per gradient a worker computes (a worker may ask for another). */
  readonly batchSize: number;
  /** Training examples per work unit handed to a worker. */
  readonly unitSize: number;
  /** Sync mode: a round closes with what it has after this long. */
  readonly roundTimeoutMs: number;
  /**
   * Sync mode: gradients a round averages; later ones (backup workers) are dropped. Undefined: one
   * from every worker registered when the round opened.
   */
  readonly replicasToAggregate?: number;
  /**
   * Sync mode: a round's learning rate times its number of gradients N ('linear'), times sqrt(N)
   * ('sqrt') or not scaled ('none'); 'auto': each optimizer's measured rule (optimizers/syncLrScaling.ts).
   */
  readonly syncLrScaling: SyncLrScaling;
  /** Async mode: refuse gradients computed from weights more than this many updates old. */
  readonly maxStaleness?: number;
  /** Async mode: divide the learning rate by a gradient's staleness. */
  readonly stalenessLr: boolean;
  /** A worker's work unit returns to the pool after this long without a message from it. */
  readonly leaseTimeoutMs: number;
  /** Size each worker's batch from its speed so that one gradient takes about this long. */
  readonly targetStepMs?: number;
  /** Sync mode: how a round's gradients are combined (robust rules resist bad volunteers). */
  readonly aggregate: AggregationRule;
  /** Scale gradients with a larger L2 norm down to this. */
  readonly clipNorm?: number;
  /** What workers push: float32 gradients, or half floats (half the bytes). */
  readonly compress: Compression;
  /** Local mode: inner steps each worker takes on a round's weights before it pushes its change. */
  readonly localSteps: number;
  /**
   * Local mode: seconds of training a round allows; a worker stops its inner steps at this or at
   * `localSteps`, whichever comes first, so that slow and fast volunteers finish on time.
   */
  readonly roundSecs?: number;
  /**
   * Local mode, buffered (FedBuff): no rounds; the shards apply the outer optimizer every this many
   * changes as they arrive, each discounted by its staleness. Undefined: rounds.
   */
  readonly localBuffer?: number;
  /** Local mode: how the shards apply a round's combined weight change. */
  readonly outerOptimizer: OuterOptimizerName;
  /** Local mode, nesterov: the outer learning rate (DiLoCo: 0.7). */
  readonly outerLr: number;
  /** Local mode, nesterov: the outer momentum (DiLoCo: 0.9). */
  readonly outerMomentum: number;
  /** Local mode: what workers push as weight changes: float32, or half floats. */
  readonly compressChanges: Compression;
  /** Keep a trust score per volunteer: out-of-line gradients are refused or clipped and cost trust. */
  readonly trust: boolean;
  /** A worker's pushes count only once its backend passed a known-answer check (`--no-known-answer`). */
  readonly knownAnswer: boolean;
  /** The share of accepted pushes the hub recomputes to check them (`--spot-check`), in [0, 1]. */
  readonly spotCheck: number;
  /** Connections from one address closed for strikes (within 10 minutes) that ban it; 0: never. */
  readonly banAfter: number;
  /** How long a banned address's new connections are refused. */
  readonly banSecs: number;
  /** How often the hub measures test accuracy (only when the weights changed). */
  readonly evalIntervalMs: number;
  /** Test examples per evaluation (the first N of the 10,000). */
  readonly evalExamples: number;
  /** Seeds the work-unit order. */
  readonly seed: number;
  /** How often dashboard viewers get an update (and the history a sample). */
  readonly dashboardIntervalMs: number;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = {
  mode: 'local',
  model: DEFAULT_MODEL,
  shards: 2,
  optimizer: 'adam',
  learningRate: 0.001,
  batchSize: 64,
  unitSize: 640,
  roundTimeoutMs: 10_000,
  syncLrScaling: 'auto',
  stalenessLr: false,
  aggregate: 'mean',
  trust: false,
  knownAnswer: true,
  spotCheck: 0.02,
  compress: 'none',
  localSteps: 20,
  outerOptimizer: 'nesterov',
  outerLr: 0.7,
  outerMomentum: 0.9,
  compressChanges: 'fp16',
  banAfter: 3,
  banSecs: 600,
  leaseTimeoutMs: 60_000,
  evalIntervalMs: 5_000,
  evalExamples: 10_000,
  seed: 1,
  dashboardIntervalMs: 1_000,
};

/** The outer optimizer local rounds apply, from the run's options. */
export function outerStep(
  options: Pick<HubOptions, 'outerOptimizer' | 'outerLr' | 'outerMomentum'>,
): OuterStep {
  return options.outerOptimizer === 'average'
    ? { optimizer: 'average' }
    : { optimizer: 'nesterov', lr: options.outerLr, momentum: options.outerMomentum };
}
