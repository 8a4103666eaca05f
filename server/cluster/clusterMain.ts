import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHubCommandLine } from '../cli/hubCommand.js';
import { DEFAULT_CLIENT_DIR } from '../http/staticClient.js';
import { parseClusterCommandLine } from './clusterCommand.js';
import { describeCluster } from './clusterPlan.js';
import { LocalCluster } from './localCluster.js';

/**
 * `npm run cluster -- …` (clusterCommand.ts: the flags; localCluster.ts: what it runs). The npm script
 * runs this with `node --import tsx`, not the tsx CLI: on a signal the CLI SIGKILLs a child that has
 * not acknowledged it within 30 ms, which on busy cores would leave the detached children running.
 */
const cli = parseClusterCommandLine(process.argv.slice(2));
// Every process parses the run's flags itself; a bad one found here fails before anything starts,
// with the hub's own message, instead of as a shard that dies on start.
parseHubCommandLine([
  ...['--nats', 'nats://127.0.0.1:4222', '--role', 'coordinator', '--shards', String(cli.shards)],
  ...cli.runFlags,
]);

if (cli.buildClient && !clientBuilt()) {
  // The coordinator and gateways serve dist/client; `npm start` builds it the same way.
  console.log('cluster: dist/client is missing; building it (npm run build:client)');
  const build = spawnSync('npm', ['run', 'build:client'], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    stdio: 'inherit',
  });
  if (build.status !== 0) {
    console.error('cluster: npm run build:client failed; --no-build-client starts without the pages');
    process.exit(1);
  }
}

const cluster = new LocalCluster({
  cli,
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  onAllExited: () => {
    console.error('cluster: every process has exited; nothing is left to stop');
    process.exit(1);
  },
});

/**
 * One Ctrl-C can arrive twice: the terminal signals every process of the foreground group, and npm
 * forwards what it got to its script as well. Only a second signal this long after the first kills.
 */
const SECOND_SIGNAL_AFTER_MS = 1_500;
let signals = 0;
let firstSignalAt = 0;
const onSignal = (signal: string): void => {
  if (signals > 0 && Date.now() - firstSignalAt < SECOND_SIGNAL_AFTER_MS) return;
  signals++;
  if (signals === 1) firstSignalAt = Date.now();
  if (signals > 1) {
    console.error(`cluster: ${signal} again, killing every process`);
    cluster.kill();
    process.exit(1);
  }
  console.log(`cluster: ${signal}, stopping (again to kill them at once)`);
  cluster.stop().then(
    (clean) => process.exit(clean ? 0 : 1),
    (error: unknown) => {
      console.error('cluster: stopping failed:', error);
      cluster.kill();
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

try {
  const serving = await cluster.start();
  for (const line of describeCluster(cli, serving)) console.log(line);
} catch (error) {
  // A signal during the start stops the cluster itself and exits; this is the start failing.
  if (signals === 0) {
    console.error(`cluster: failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

function clientBuilt(): boolean {
  return ['index.html', join('worker', 'index.html')].every((page) =>
    existsSync(join(DEFAULT_CLIENT_DIR, page)),
  );
}
