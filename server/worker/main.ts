import { Command, Option } from 'commander';
import { GradientWorker } from '../../shared/GradientWorker.js';
import { HubClient } from '../../shared/HubClient.js';
import { httpUrl, integerIn } from '../cli/parsers.js';
import { initNodeTf, type NodeTfBackend } from '../tf/initNodeTf.js';

const program = new Command('npm run worker --')
  .description('A headless gradient worker: does what a browser tab does, from Node.')
  .addOption(
    new Option('--hub <url>', 'the hub to train for').default('http://127.0.0.1:8080').argParser(httpUrl),
  )
  .addOption(
    new Option(
      '--steps <n>',
      'stop after this many accepted gradients (in local mode: weight changes; default: run until stopped)',
    ).argParser(integerIn(1, Number.MAX_SAFE_INTEGER)),
  )
  .addOption(
    new Option('--batch-size <n>', "examples per gradient, at most the hub's (default: the hub's)").argParser(
      integerIn(1, 4096),
    ),
  )
  .addOption(new Option('--backend <name>', 'TF.js backend').choices(['wasm', 'cpu']).default('wasm'))
  .addOption(
    new Option('--report-every <n>', 'print progress every N steps')
      .default(20)
      .argParser(integerIn(1, 1_000_000)),
  )
  .showHelpAfterError('(run with --help for every flag)');

program.parse();
const flags = program.opts<{
  hub: string;
  steps?: number;
  batchSize?: number;
  backend: NodeTfBackend;
  reportEvery: number;
}>();

try {
  const backend = await initNodeTf(flags.backend);
  const client = await HubClient.connect({
    url: flags.hub,
    backend,
    device: `node ${process.version}`,
    reconnect: true,
  });
  const { config } = client;
  console.log(
    `worker ${client.workerId}: ${config.mode} mode, ${config.model} (${config.params} parameters) on ${backend}, hub ${flags.hub}`,
  );
  const started = Date.now();
  const worker = new GradientWorker({
    client,
    batchSize: flags.batchSize,
    maxSteps: flags.steps,
    onStep: (r) => {
      if (r.steps % flags.reportEvery !== 0 && r.steps !== flags.steps) return;
      const rate = r.examples / ((Date.now() - started) / 1000);
      console.log(
        `worker ${client.workerId}: step ${r.steps}${flags.steps ? `/${flags.steps}` : ''}, global step ${r.globalStep}, ` +
          `loss ${r.loss.toFixed(4)}, ${rate.toFixed(0)} examples/s` +
          (r.localSteps === undefined ? '' : `, change of ${r.localSteps} local steps`),
      );
    },
    onKnownAnswer: ({ cosine, normRatio, ms }) =>
      console.log(
        `worker ${client.workerId}: ${backend} passed the hub's known-answer check (cosine ${cosine.toFixed(4)}, norm ratio ${normRatio.toFixed(3)}) in ${Math.round(ms)} ms`,
      ),
    onRefused: (error) =>
      console.log(`worker ${client.workerId}: ${error.message}; retrying with fresh weights`),
  });
  client.onStateChange((state, detail) => {
    if (state === 'reconnecting') console.error(`worker: lost the hub (${detail}); reconnecting`);
    if (state === 'connected') console.log(`worker: ${detail}`);
  });
  const stop = () => worker.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const summary = await worker.run();
  client.close();
  console.log(
    `worker ${client.workerId}: done, ${summary.steps} ${client.config.mode === 'local' ? 'weight changes' : 'gradients'} accepted (${summary.examples} examples), ${summary.refused} refused`,
  );
} catch (error) {
  console.error('worker: failed:', error instanceof Error ? error.stack : error);
  process.exit(1);
}
