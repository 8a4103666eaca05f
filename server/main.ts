import { Command, Option } from 'commander';
import { MODEL_NAMES, type ModelName } from '../shared/models.js';
import { TRAINING_MODES, type TrainingMode } from '../shared/protocol.js';
import { integerIn, positiveNumber, secondsToMs } from './cli/parsers.js';
import { OPTIMIZER_NAMES, type OptimizerName } from './optimizers/updateRules.js';
import { DEFAULT_HUB_OPTIONS, type HubOptions } from './options.js';

const D = DEFAULT_HUB_OPTIONS;
import { startHub } from './startHub.js';

const program = new Command('npm start --')
  .description(
    'Parameter-server hub of the volunteer-compute trainer: open /worker in a browser to help train.',
  )
  .addOption(
    new Option('--port <port>', 'port to listen on (0: any free port)')
      .default(8080)
      .argParser(integerIn(0, 65535)),
  )
  .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1'))
  .addOption(
    new Option(
      '--mode <mode>',
      'async: apply each push on arrival; sync: average one gradient per worker per step',
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
    new Option('--lr <rate>', 'learning rate (sync mode scales it by the gradients averaged)')
      .default(D.learningRate)
      .argParser(positiveNumber),
  )
  .addOption(
    new Option('--batch-size <n>', 'examples per gradient')
      .default(D.batchSize)
      .argParser(integerIn(1, 4096)),
  )
  .addOption(
    new Option('--unit-size <n>', 'training examples per work unit leased to a worker')
      .default(D.unitSize)
      .argParser(integerIn(1, 60_000)),
  )
  .addOption(
    new Option('--round-timeout <seconds>', 'sync mode: a round closes with what it has after this long')
      .default(D.roundTimeoutMs, String(D.roundTimeoutMs / 1000))
      .argParser(secondsToMs),
  )
  .addOption(
    new Option(
      '--replicas-to-aggregate <k>',
      'sync mode: gradients a round averages; later ones are dropped (default: one per worker)',
    ).argParser(integerIn(1, 100_000)),
  )
  .addOption(
    new Option('--max-staleness <updates>', 'async mode: refuse gradients older than this').argParser(
      integerIn(0, 1_000_000),
    ),
  )
  .addOption(
    new Option('--staleness-lr', 'async mode: divide the learning rate by the staleness').default(false),
  )
  .addOption(
    new Option('--lease-timeout <seconds>', 'a silent worker loses its work unit after this long')
      .default(D.leaseTimeoutMs, String(D.leaseTimeoutMs / 1000))
      .argParser(secondsToMs),
  )
  .addOption(
    new Option(
      '--target-step-ms <ms>',
      'size each worker’s batch so one gradient takes about this long',
    ).argParser(integerIn(1, 600_000)),
  )
  .addOption(
    new Option('--eval-interval <seconds>', 'how often to measure test accuracy')
      .default(D.evalIntervalMs, String(D.evalIntervalMs / 1000))
      .argParser(secondsToMs),
  )
  .addOption(
    new Option('--eval-examples <n>', 'test examples per evaluation (first N of 10,000)')
      .default(D.evalExamples)
      .argParser(integerIn(1, 10_000)),
  )
  .addOption(
    new Option('--seed <n>', 'seed of the work-unit order').default(D.seed).argParser(integerIn(0, 2 ** 31)),
  )
  .showHelpAfterError('(run with --help for every flag)');

program.parse();
const flags = program.opts<{
  port: number;
  host: string;
  mode: TrainingMode;
  model: ModelName;
  shards: number;
  optimizer: OptimizerName;
  lr: number;
  batchSize: number;
  unitSize: number;
  roundTimeout: number;
  replicasToAggregate?: number;
  maxStaleness?: number;
  stalenessLr: boolean;
  leaseTimeout: number;
  targetStepMs?: number;
  evalInterval: number;
  evalExamples: number;
  seed: number;
}>();

const options: HubOptions = {
  mode: flags.mode,
  model: flags.model,
  shards: flags.shards,
  optimizer: flags.optimizer,
  learningRate: flags.lr,
  batchSize: flags.batchSize,
  unitSize: flags.unitSize,
  roundTimeoutMs: flags.roundTimeout,
  replicasToAggregate: flags.replicasToAggregate,
  maxStaleness: flags.maxStaleness,
  stalenessLr: flags.stalenessLr,
  leaseTimeoutMs: flags.leaseTimeout,
  targetStepMs: flags.targetStepMs,
  evalIntervalMs: flags.evalInterval,
  evalExamples: flags.evalExamples,
  seed: flags.seed,
  dashboardIntervalMs: DEFAULT_HUB_OPTIONS.dashboardIntervalMs,
};

try {
  const running = await startHub(options, { host: flags.host, port: flags.port, log: console.log });
  const { hub, url } = running;
  console.log(
    `hub: ${options.mode} mode, model ${options.model} (${hub.layout.totalLength.toLocaleString('en')} parameters), ` +
      `${options.shards} shard(s), ${options.optimizer} lr ${options.learningRate}, batch ${options.batchSize}`,
  );
  console.log(`hub: status   ${url}/api/status`);
  console.log(`hub: metrics  ${url}/metrics`);
  console.log(`hub: worker   npm run worker -- --hub ${url}`);
  const shutdown = (signal: string) => {
    console.log(`hub: ${signal}, shutting down`);
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('hub: shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    console.error(
      `hub: port ${flags.port} on ${flags.host} is in use; pick another with --port (or --port 0).`,
    );
  } else {
    console.error('hub: failed to start:', error instanceof Error ? error.message : error);
  }
  process.exit(1);
}
