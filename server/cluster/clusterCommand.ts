import { Command, Option } from 'commander';
import { MODEL_NAMES, type ModelName } from '../../shared/models.js';
import { TRAINING_MODES, type TrainingMode } from '../../shared/protocol.js';
import { integerIn, natsSubjectPrefix, positiveNumber } from '../cli/parsers.js';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optimizers/updateRules.js';
import { DEFAULT_HUB_OPTIONS as D } from '../options.js';
import { DEFAULT_SUBJECT_PREFIX } from './subjects.js';

/** `npm run cluster -- …`: a whole cluster on this machine, as its parts would run on several. */
export interface ClusterCommandLine {
  readonly shards: number;
  readonly gateways: number;
  /** The coordinator's port; gateway i listens on port + 1 + i, a standby after them (0: any free). */
  readonly port: number;
  readonly host: string;
  /** As given (relative to the working directory): the coordinator's, `shard-<i>/` and NATS's store. */
  readonly checkpointDir: string;
  readonly subjectPrefix: string;
  readonly standby: boolean;
  /** Build the client first when dist/client is missing (the coordinator and gateways serve it). */
  readonly buildClient: boolean;
  /**
   * The run's flags, the same for every shard and coordinator process: the known ones (always, with
   * their values) and then whatever came after `--`.
   */
  readonly runFlags: readonly string[];
}

/**
 * Flags the cluster itself sets on each process: given after `--` they would contradict it (a shard
 * told another --shards than the coordinator splits the model otherwise).
 */
const OWNED_FLAGS: Readonly<Record<string, string>> = {
  '--nats': 'the cluster starts its own nats-server',
  '--role': 'the cluster gives every process its role',
  '--shard-index': 'the cluster numbers the shards',
  '--port': 'give --port before the --',
  '--host': 'give --host before the --',
  '--shards': 'give --shards before the --',
  '--checkpoint-dir': 'give --checkpoint-dir before the --',
  '--subject-prefix': 'give --subject-prefix before the --',
  '--fresh':
    'a shard resumes from <checkpoint-dir>/shard-<i>/ whatever the coordinator does; point --checkpoint-dir ' +
    'at a new folder (or remove the old one) to start over',
};

/** The run's flags the cluster knows by name, each passed with its value to every process. */
const RUN_FLAGS = ['--model', '--mode', '--optimizer', '--lr', '--seed', '--batch-size'] as const;

export function parseClusterCommandLine(argv: readonly string[]): ClusterCommandLine {
  const program = new Command('npm run cluster --')
    .description(
      'A whole cluster on this machine: a nats-server, --shards shard processes, a coordinator and ' +
        '--gateways gateways, each a child process of its own, with their output prefixed by name. ' +
        'Prints every URL and the commands that run the same on several machines; Ctrl-C stops them all ' +
        '(gateways, coordinator, shards, NATS).',
    )
    .showHelpAfterError("(run with --help for every flag; the hub's other flags go after --)")
    .argument('[hub-flags...]', 'after --: more flags for every shard and coordinator (npm start -- --help)')
    .addOption(new Option('--shards <n>', 'shard processes').default(2).argParser(integerIn(1, 64)))
    .addOption(
      new Option('--gateways <n>', 'gateway processes (0: workers use the coordinator only)')
        .default(2)
        .argParser(integerIn(0, 64)),
    )
    .addOption(
      new Option('--port <port>', "the coordinator's port; gateways take the ports after it (0: any free)")
        .default(8080)
        .argParser(integerIn(0, 65535)),
    )
    .addOption(
      new Option('--host <host>', 'address the coordinator and gateways listen on').default('127.0.0.1'),
    )
    .addOption(
      new Option(
        '--checkpoint-dir <dir>',
        "the coordinator's checkpoints; shard i keeps its own in <dir>/shard-<i>/, NATS its JetStream in <dir>/nats",
      ).default('./checkpoints/cluster'),
    )
    .addOption(
      new Option('--subject-prefix <prefix>', 'NATS subjects of this run')
        .default(DEFAULT_SUBJECT_PREFIX)
        .argParser(natsSubjectPrefix),
    )
    .addOption(
      new Option(
        '--standby',
        'also start a second coordinator with the same flags on its own port, to take over when the first dies',
      ).default(false),
    )
    .addOption(
      new Option('--no-build-client', 'do not build dist/client when it is missing (the pages answer 503)'),
    )
    .optionsGroup('The run (passed to every shard and coordinator alike):')
    .addOption(new Option('--model <name>', 'model to train').choices(MODEL_NAMES).default(D.model))
    .addOption(new Option('--mode <mode>', 'training mode').choices(TRAINING_MODES).default(D.mode))
    .addOption(
      new Option('--optimizer <name>', 'update rule the shards apply')
        .choices(OPTIMIZER_NAMES)
        .default(D.optimizer),
    )
    .addOption(new Option('--lr <rate>', 'learning rate').default(D.learningRate).argParser(positiveNumber))
    .addOption(
      new Option('--seed <n>', 'seed of the initial weights and of the work-unit order')
        .default(D.seed)
        .argParser(integerIn(0, 2 ** 31)),
    )
    .addOption(
      new Option('--batch-size <n>', 'examples per gradient')
        .default(D.batchSize)
        .argParser(integerIn(1, 4096)),
    );
  program.addHelpText(
    'after',
    `
Any other flag of the hub (npm start -- --help) goes after --, and reaches every shard and coordinator:
  npm run cluster -- --shards 2 --gateways 2 --mode async --lr 0.002 -- --max-staleness 4 --checkpoint-secs 10
Workers open /worker on the coordinator (--port) or on any gateway (the ports after it); the dashboard
is the coordinator's. Started again with the same --checkpoint-dir, the run resumes where it stopped.`,
  );
  program.parse(argv, { from: 'user' });
  const f = program.opts<{
    shards: number;
    gateways: number;
    port: number;
    host: string;
    checkpointDir: string;
    subjectPrefix: string;
    standby: boolean;
    buildClient: boolean;
    model: ModelName;
    mode: TrainingMode;
    optimizer: OptimizerName;
    lr: number;
    seed: number;
    batchSize: number;
  }>();
  const extra = program.args;
  const problem = passThroughProblem(extra);
  if (problem !== null) program.error(`error: ${problem}`);
  const known = [f.model, f.mode, f.optimizer, String(f.lr), String(f.seed), String(f.batchSize)];
  return {
    shards: f.shards,
    gateways: f.gateways,
    port: f.port,
    host: f.host,
    checkpointDir: f.checkpointDir,
    subjectPrefix: f.subjectPrefix,
    standby: f.standby,
    buildClient: f.buildClient,
    runFlags: [...RUN_FLAGS.flatMap((flag, i) => [flag, known[i]]), ...extra],
  };
}

/** Why the flags after `--` cannot go to every process as they are; null when they can. */
export function passThroughProblem(extra: readonly string[]): string | null {
  for (const arg of extra) {
    const name = arg.split('=')[0];
    const owned = OWNED_FLAGS[name];
    if (owned !== undefined) return `${name} cannot come after --: ${owned}`;
    if ((RUN_FLAGS as readonly string[]).includes(name)) return `give ${name} before the --, not after it`;
  }
  return null;
}
