/**
 * The hub's flags of the training itself: the "Training:", "Volunteers:", "Sync mode:" and "Async
 * mode:" groups, and the hub options they set. Apart from hubCommand.ts (which assembles the command
 * line) so that each group's flags, defaults and mapping read together; local mode's are in
 * localModeOptions.ts.
 */
import { type Command, Option } from 'commander';
import { MODEL_NAMES, type ModelName } from '../../shared/models.js';
import { COMPRESSIONS, TRAINING_MODES, type Compression, type TrainingMode } from '../../shared/protocol.js';
import { SYNC_LR_SCALINGS, type SyncLrScaling } from '../optimizers/syncLrScaling.js';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optimizers/updateRules.js';
import { DEFAULT_HUB_OPTIONS as D, type HubOptions } from '../options.js';
import { integerIn, positiveNumber, secondsOption } from './parsers.js';

/** The training flags as commander gives them. */
export interface TrainingFlags {
  mode: TrainingMode;
  model: ModelName;
  shards: number;
  optimizer: OptimizerName;
  lr: number;
  batchSize: number;
  seed: number;
  unitSize: number;
  leaseTimeout: number;
  targetStepMs?: number;
  roundTimeout: number;
  replicasToAggregate?: number;
  syncLrScaling: SyncLrScaling;
  maxStaleness?: number;
  stalenessLr: boolean;
  compress: Compression;
}

/** Adds the "Training:", "Volunteers:", "Sync mode:" and "Async mode:" groups to the hub's command line. */
export function addTrainingOptions(program: Command): Command {
  return program
    .optionsGroup('Training:')
    .addOption(
      new Option(
        '--mode <mode>',
        'async: apply each push on arrival; sync: average one gradient per worker per step; local: workers train locally, the hub applies an outer optimizer to their changes',
      )
        .choices(TRAINING_MODES)
        .default(D.mode),
    )
    .addOption(new Option('--model <name>', 'model to train').choices(MODEL_NAMES).default(D.model))
    .addOption(
      new Option('--shards <n>', 'parameter-server shards the weights are split into')
        .default(D.shards)
        .argParser(integerIn(1, 64)),
    )
    .addOption(
      new Option('--optimizer <name>', 'update rule the shards apply')
        .choices(OPTIMIZER_NAMES)
        .default(D.optimizer),
    )
    .addOption(
      new Option('--lr <rate>', 'learning rate (sync mode: see --sync-lr-scaling)')
        .default(D.learningRate)
        .argParser(positiveNumber),
    )
    .addOption(
      new Option('--batch-size <n>', 'examples per gradient')
        .default(D.batchSize)
        .argParser(integerIn(1, 4096)),
    )
    .addOption(
      new Option('--seed <n>', 'seed of the work-unit order (--role shard: of the initial weights)')
        .default(D.seed)
        .argParser(integerIn(0, 2 ** 31)),
    )
    .optionsGroup('Volunteers:')
    .addOption(
      new Option('--unit-size <n>', 'training examples per work unit leased to a worker')
        .default(D.unitSize)
        .argParser(integerIn(1, 60_000)),
    )
    .addOption(
      secondsOption(
        '--lease-timeout <seconds>',
        'a silent worker loses its work unit after this long',
        D.leaseTimeoutMs,
      ),
    )
    .addOption(
      new Option(
        '--target-step-ms <ms>',
        "size each worker's batch so one gradient takes about this long",
      ).argParser(integerIn(1, 600_000)),
    )
    .optionsGroup('Sync mode:')
    .addOption(
      secondsOption(
        '--round-timeout <seconds>',
        'a round closes with the gradients it has after this long',
        D.roundTimeoutMs,
      ),
    )
    .addOption(
      new Option(
        '--replicas-to-aggregate <k>',
        'gradients a round averages; later ones are dropped (default: one per worker)',
      ).argParser(integerIn(1, 100_000)),
    )
    .addOption(
      new Option(
        '--sync-lr-scaling <rule>',
        "a round's learning rate: linear: --lr x N, the N gradients it averages (the linear scaling rule); " +
          'sqrt: --lr x sqrt(N); none: --lr (as SyncReplicasOptimizer); auto: the rule measured best for the ' +
          'optimizer, linear for sgd, momentum and (up to 8 workers measured) adam (README "Training modes")',
      )
        .choices(SYNC_LR_SCALINGS)
        .default(D.syncLrScaling),
    )
    .optionsGroup('Async mode:')
    .addOption(
      new Option(
        '--max-staleness <updates>',
        'refuse gradients computed from weights older than this',
      ).argParser(integerIn(0, 1_000_000)),
    )
    .addOption(new Option('--staleness-lr', 'divide the learning rate by the staleness').default(false))
    .addOption(
      new Option('--compress <scheme>', 'what workers push: float32 gradients, or fp16 (half the bytes)')
        .choices(COMPRESSIONS)
        .default(D.compress),
    );
}

/** The hub options the training flags set. */
export function trainingOptions(
  f: TrainingFlags,
): Pick<
  HubOptions,
  | 'mode'
  | 'model'
  | 'shards'
  | 'optimizer'
  | 'learningRate'
  | 'batchSize'
  | 'seed'
  | 'unitSize'
  | 'leaseTimeoutMs'
  | 'targetStepMs'
  | 'roundTimeoutMs'
  | 'replicasToAggregate'
  | 'syncLrScaling'
  | 'maxStaleness'
  | 'stalenessLr'
  | 'compress'
> {
  return {
    mode: f.mode,
    model: f.model,
    shards: f.shards,
    optimizer: f.optimizer,
    learningRate: f.lr,
    batchSize: f.batchSize,
    seed: f.seed,
    unitSize: f.unitSize,
    leaseTimeoutMs: f.leaseTimeout,
    targetStepMs: f.targetStepMs,
    roundTimeoutMs: f.roundTimeout,
    replicasToAggregate: f.replicasToAggregate,
    syncLrScaling: f.syncLrScaling,
    maxStaleness: f.maxStaleness,
    stalenessLr: f.stalenessLr,
    compress: f.compress,
  };
}
