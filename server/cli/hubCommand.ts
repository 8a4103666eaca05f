import { Command, InvalidArgumentError, Option } from 'commander';
import { MODEL_NAMES, type ModelName } from '../../shared/models.js';
import { COMPRESSIONS, TRAINING_MODES, type Compression, type TrainingMode } from '../../shared/protocol.js';
import type { CheckpointOptions } from '../checkpoints/Checkpointer.js';
import { AGGREGATION_RULES, type AggregationRule } from '../aggregation/robustAggregate.js';
import { SYNC_LR_SCALINGS, type SyncLrScaling } from '../optimizers/syncLrScaling.js';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optimizers/updateRules.js';
import { DEFAULT_HUB_OPTIONS as D, type HubOptions } from '../options.js';
import { DEFAULT_SUBJECT_PREFIX, shardSubject } from '../cluster/subjects.js';
import { addLocalModeOptions, localModeOptions, type LocalModeFlags } from './localModeOptions.js';
import { fraction, integerIn, natsUrl, positiveNumber, secondsToMs } from './parsers.js';

export const CLUSTER_ROLES = ['shard', 'coordinator', 'gateway'] as const;

/** A process of a cluster on NATS (`--nats` and `--role`); absent: the embedded hub, all in one. */
export type ClusterRole =
  | {
      /** The full hub (HTTP, dashboard, worker gateway, coordinator) on shard processes. */
      readonly role: 'coordinator';
      readonly natsUrl: string;
      readonly subjectPrefix: string;
    }
  | {
      /**
       * Pages, examples and worker sockets for the coordinator's run: joins, pushes and leases go to the
       * coordinator over NATS, pulls straight to the shard processes. Takes the run's settings from it.
       */
      readonly role: 'gateway';
      readonly natsUrl: string;
      readonly subjectPrefix: string;
    }
  | {
      /** One shard actor: floats of range `shardIndex` of `--shards`, served on NATS. */
      readonly role: 'shard';
      readonly natsUrl: string;
      readonly subjectPrefix: string;
      readonly shardIndex: number;
    };

export interface HubCommandLine {
  readonly host: string;
  readonly port: number;
  /** Undefined: the hub generates one and prints it. */
  readonly adminToken?: string;
  readonly options: HubOptions;
  readonly checkpoints: CheckpointOptions;
  readonly cluster?: ClusterRole;
}

const DEFAULT_CHECKPOINTS: CheckpointOptions = {
  dir: './checkpoints',
  intervalMs: 60_000,
  keep: 3,
  fresh: false,
};

/** `npm start -- …`: every flag of the hub, grouped in --help; bad values exit with the accepted range. */
export function parseHubCommandLine(argv: readonly string[]): HubCommandLine {
  const seconds = (ms: number) => String(ms / 1000);
  const program = new Command('npm start --')
    .description(
      'Parameter-server hub of the volunteer-compute trainer: open /worker in a browser to help train.',
    )
    .showHelpAfterError('(run with --help for every flag)')
    .optionsGroup('Server:')
    .addOption(
      new Option('--port <port>', 'port to listen on (0: any free port)')
        .default(8080)
        .argParser(integerIn(0, 65535)),
    )
    .addOption(
      new Option('--host <host>', 'address to listen on (0.0.0.0: every interface)').default('127.0.0.1'),
    )
    .addOption(
      new Option(
        '--admin-token <token>',
        'token for actions that change the run (default: a new one, printed at start)',
      ).env('HUB_ADMIN_TOKEN'),
    )
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
      new Option('--lease-timeout <seconds>', 'a silent worker loses its work unit after this long')
        .default(D.leaseTimeoutMs, seconds(D.leaseTimeoutMs))
        .argParser(secondsToMs),
    )
    .addOption(
      new Option(
        '--target-step-ms <ms>',
        "size each worker's batch so one gradient takes about this long",
      ).argParser(integerIn(1, 600_000)),
    )
    .optionsGroup('Sync mode:')
    .addOption(
      new Option('--round-timeout <seconds>', 'a round closes with the gradients it has after this long')
        .default(D.roundTimeoutMs, seconds(D.roundTimeoutMs))
        .argParser(secondsToMs),
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
  addLocalModeOptions(program)
    .optionsGroup('Untrusted volunteers:')
    .addOption(
      new Option('--aggregate <rule>', 'sync mode: how a round combines its gradients')
        .choices(AGGREGATION_RULES)
        .default(D.aggregate),
    )
    .addOption(
      new Option('--clip-norm <norm>', 'scale gradients with a larger L2 norm down to it').argParser(
        positiveNumber,
      ),
    )
    .addOption(
      new Option(
        '--trust',
        'weight each volunteer by a trust score that out-of-line gradients and failed spot checks lower; newcomers start on probation',
      ).default(false),
    )
    .addOption(
      new Option(
        '--no-known-answer',
        "count a worker's pushes without first checking one gradient of its backend against the hub's",
      ),
    )
    .addOption(
      new Option(
        '--spot-check <rate>',
        'share of accepted pushes the hub recomputes off the event loop; a mismatch costs trust (0: none)',
      )
        .default(D.spotCheck)
        .argParser(fraction),
    )
    .addOption(
      new Option(
        '--ban-after <n>',
        'refuse an address for a while after this many of its connections were closed for strikes (0: never)',
      )
        .default(D.banAfter)
        .argParser(integerIn(0, 1000)),
    )
    .addOption(
      new Option('--ban-secs <seconds>', 'how long a banned address is refused')
        .default(D.banSecs)
        .argParser(integerIn(1, 7 * 24 * 3600)),
    )
    .optionsGroup('Evaluation:')
    .addOption(
      new Option('--eval-interval <seconds>', 'how often to measure test accuracy')
        .default(D.evalIntervalMs, seconds(D.evalIntervalMs))
        .argParser(secondsToMs),
    )
    .addOption(
      new Option('--eval-examples <n>', 'test examples per evaluation (first N of 10,000)')
        .default(D.evalExamples)
        .argParser(integerIn(1, 10_000)),
    )
    .optionsGroup('Checkpoints:')
    .addOption(
      new Option('--checkpoint-dir <dir>', 'where checkpoints are written and resumed from').default(
        DEFAULT_CHECKPOINTS.dir,
      ),
    )
    .addOption(
      new Option('--checkpoint-secs <seconds>', 'write a checkpoint this often while training')
        .default(DEFAULT_CHECKPOINTS.intervalMs, seconds(DEFAULT_CHECKPOINTS.intervalMs))
        .argParser(secondsToMs),
    )
    .addOption(
      new Option('--keep-checkpoints <n>', 'checkpoints kept on disk')
        .default(DEFAULT_CHECKPOINTS.keep)
        .argParser(integerIn(1, 1000)),
    )
    .addOption(
      new Option('--fresh', 'start a new run instead of resuming the newest checkpoint').default(false),
    )
    .optionsGroup('Several machines (NATS; see README "Run on several machines"):')
    .addOption(
      new Option(
        '--nats <url>',
        'NATS server every process of the cluster uses, e.g. nats://10.0.0.5:4222 (needs --role)',
      ).argParser(natsUrl),
    )
    .addOption(
      new Option(
        '--role <role>',
        'shard: serve one shard of the weights (with --shard-index; keeps its own checkpoints in ' +
          '<checkpoint-dir>/shard-<i>/); coordinator: the hub (HTTP, dashboard, workers) on --shards shard ' +
          'processes, and the global step, leases and ledger for every gateway (a second one waits as a ' +
          'standby); gateway: one more address for workers (pages, examples, sockets) of the coordinator ' +
          'with the same --subject-prefix, which gives it the run settings. Default: embedded, everything ' +
          'in this process',
      ).choices(CLUSTER_ROLES),
    )
    .addOption(
      new Option('--shard-index <i>', '--role shard: which shard, 0 to --shards minus 1').argParser(
        integerIn(0, 63),
      ),
    )
    .addOption(
      new Option(
        '--subject-prefix <prefix>',
        'NATS subjects are <prefix>.shard.<i> and <prefix>.coord.*: one prefix per run sharing a NATS server',
      )
        .default(DEFAULT_SUBJECT_PREFIX)
        .argParser(subjectPrefix),
    );

  program.addHelpText(
    'after',
    `
On this machine, all of it in one command: npm run cluster -- --shards 2 --gateways 2 [--standby]
Several machines: a nats-server with JetStream and max_payload raised (README "Run on several
machines"), then one process per shard and a coordinator, all with the same --model, --shards,
--optimizer, --lr, --seed, --subject-prefix (and, in sync mode, --aggregate and --sync-lr-scaling):
  npm run hub -- --nats nats://HOST:4222 --role shard --shards 2 --shard-index 0   (and 1)
  npm start -- --nats nats://HOST:4222 --role coordinator --shards 2 --host 0.0.0.0
the same coordinator command on another machine for a standby that takes over if it dies, and, for
more worker addresses, any number of gateways (any mode; the dashboard is the coordinator's):
  npm start -- --nats nats://HOST:4222 --role gateway --host 0.0.0.0 --port 8081
A shard that is killed and started again resumes from its checkpoint; workers wait and retry meanwhile.`,
  );
  program.parse(argv, { from: 'user' });
  const f = program.opts<
    LocalModeFlags & {
      port: number;
      host: string;
      adminToken?: string;
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
      aggregate: AggregationRule;
      clipNorm?: number;
      trust: boolean;
      knownAnswer: boolean;
      spotCheck: number;
      compress: Compression;
      banAfter: number;
      banSecs: number;
      evalInterval: number;
      evalExamples: number;
      checkpointDir: string;
      checkpointSecs: number;
      keepCheckpoints: number;
      fresh: boolean;
      nats?: string;
      role?: (typeof CLUSTER_ROLES)[number];
      shardIndex?: number;
      subjectPrefix: string;
    }
  >();
  const cluster = clusterRole(f, (message) => program.error(`error: ${message}`));
  return {
    host: f.host,
    port: f.port,
    adminToken: f.adminToken,
    options: {
      ...D,
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
      aggregate: f.aggregate,
      clipNorm: f.clipNorm,
      trust: f.trust,
      knownAnswer: f.knownAnswer,
      spotCheck: f.spotCheck,
      compress: f.compress,
      ...localModeOptions(f),
      banAfter: f.banAfter,
      banSecs: f.banSecs,
      evalIntervalMs: f.evalInterval,
      evalExamples: f.evalExamples,
    },
    checkpoints: {
      dir: f.checkpointDir,
      intervalMs: f.checkpointSecs,
      keep: f.keepCheckpoints,
      fresh: f.fresh,
    },
    cluster,
  };
}

/** `--nats`, `--role` and `--shard-index` only make sense together; `fail` exits with the message. */
function clusterRole(
  f: {
    nats?: string;
    role?: (typeof CLUSTER_ROLES)[number];
    shardIndex?: number;
    subjectPrefix: string;
    shards: number;
    fresh: boolean;
  },
  fail: (message: string) => never,
): ClusterRole | undefined {
  if (f.role === undefined) {
    if (f.nats !== undefined) {
      fail(
        '--nats needs --role shard, coordinator or gateway (without both, the hub runs embedded in one process)',
      );
    }
    if (f.shardIndex !== undefined) fail('--shard-index needs --role shard');
    return undefined;
  }
  if (f.nats === undefined) {
    fail(`--role ${f.role} needs --nats <url>: the NATS server every process of the cluster uses`);
  }
  if (f.role === 'gateway') {
    if (f.shardIndex !== undefined) fail('--shard-index is for --role shard; a gateway uses every shard');
    return { role: 'gateway', natsUrl: f.nats, subjectPrefix: f.subjectPrefix };
  }
  if (f.role === 'coordinator') {
    if (f.shardIndex !== undefined) fail('--shard-index is for --role shard; a coordinator uses every shard');
    return { role: 'coordinator', natsUrl: f.nats, subjectPrefix: f.subjectPrefix };
  }
  if (f.shardIndex === undefined) fail(`--role shard needs --shard-index <i> (0 to ${f.shards - 1})`);
  if (f.shardIndex >= f.shards) {
    fail(
      `--shard-index ${f.shardIndex} is out of range for --shards ${f.shards}: expected 0 to ${f.shards - 1}`,
    );
  }
  if (f.fresh) {
    fail(
      '--fresh is not for --role shard: a shard resumes from <checkpoint-dir>/shard-<i>/; point it at an empty --checkpoint-dir to start over',
    );
  }
  return { role: 'shard', natsUrl: f.nats, subjectPrefix: f.subjectPrefix, shardIndex: f.shardIndex };
}

function subjectPrefix(value: string): string {
  try {
    shardSubject(value, 0);
    return value;
  } catch {
    throw new InvalidArgumentError(
      `expected dot-separated tokens of letters, digits, _ and - (no spaces or wildcards), got "${value}".`,
    );
  }
}
