import { CheckpointMismatchError } from './checkpoints/runCheckpoint.js';
import { parseHubCommandLine } from './cli/hubCommand.js';
import { startHub } from './startHub.js';

const { host, port, adminToken, options, checkpoints } = parseHubCommandLine(process.argv.slice(2));

try {
  const running = await startHub(options, { host, port, adminToken, log: console.log }, checkpoints);
  const { hub, url } = running;
  console.log(
    `hub: ${options.mode} mode, model ${options.model} (${hub.layout.totalLength.toLocaleString('en')} parameters), ` +
      `${options.shards} shard(s), ${options.optimizer} lr ${options.learningRate}, batch ${options.batchSize}`,
  );
  console.log(`hub: dashboard ${url}/`);
  console.log(`hub: worker    ${url}/worker   (open it in any browser to lend it to training)`);
  console.log(`hub: status    ${url}/api/status`);
  console.log(`hub: metrics   ${url}/metrics`);
  console.log(`hub: checkpoints every ${checkpoints.intervalMs / 1000} s in ${checkpoints.dir}`);
  if (!adminToken) {
    // Printed once, here only: whoever holds it may pause the run, change the rate or mode, checkpoint,
    // reset. In the link it rides in the fragment, which the browser never sends to the hub.
    console.log(
      `hub: admin token ${running.adminToken}  (for /api/admin/*; set your own with --admin-token)`,
    );
    console.log(
      `hub: admin     ${url}/#admin=${encodeURIComponent(running.adminToken)}   (the dashboard with its controls; keep it private)`,
    );
  } else {
    console.log(`hub: admin     ${url}/#admin=<your --admin-token>   (the dashboard with its controls)`);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`hub: ${signal}, writing a last checkpoint and shutting down`);
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
    console.error(`hub: port ${port} on ${host} is in use; pick another with --port (or --port 0).`);
  } else if (error instanceof CheckpointMismatchError) {
    console.error(`hub: ${error.message}`);
  } else {
    console.error('hub: failed to start:', error instanceof Error ? error.message : error);
  }
  process.exit(1);
}
