import { CheckpointMismatchError } from './checkpoints/runCheckpoint.js';
import { parseHubCommandLine, type ClusterRole, type HubCommandLine } from './cli/hubCommand.js';
import { startGateway } from './cluster/gatewayProcess.js';
import { startCoordinatorProcess, type RunningCoordinator } from './cluster/coordinatorProcess.js';
import { shardCheckpointDir } from './cluster/shardCheckpoint.js';
import { runShardProcess } from './cluster/shardProcess.js';
import { startHub, type RunningHub } from './startHub.js';
import type { HubOptions } from './options.js';

const cli = parseHubCommandLine(process.argv.slice(2));
if (cli.cluster?.role === 'shard') await runShard(cli, cli.cluster);
else if (cli.cluster?.role === 'gateway') await runGateway(cli, cli.cluster);
else await runHub(cli, cli.cluster);

/** The hub: embedded (its own shard actors) or, with --role coordinator, on shard processes. */
async function runHub(
  { host, port, adminToken, options, checkpoints }: HubCommandLine,
  cluster?: ClusterRole & { role: 'coordinator' },
) {
  let coordinator: RunningCoordinator | undefined;
  // Set once the hub serves; a signal before that (a standby waiting for the lease) just exits.
  let stop: ((signal: string) => Promise<unknown>) | null = null;
  onSignal((signal) => {
    if (stop) return stop(signal);
    console.log(`hub: ${signal} before serving (standing by, or starting): nothing to save, exiting`);
    return Promise.resolve();
  }, 'hub');
  try {
    let running: RunningHub;
    if (cluster) {
      console.log(`hub: coordinator of ${options.shards} shard process(es) on NATS ${cluster.natsUrl}`);
      coordinator = await startCoordinatorProcess({
        natsUrl: cluster.natsUrl,
        subjectPrefix: cluster.subjectPrefix,
        options,
        listen: { host, port, adminToken, log: console.log },
        checkpoints,
        log: console.log,
        onLeaseLost: (reason) => {
          // Two coordinators applying at once would count the run twice: stop now, without a last
          // checkpoint (the one that took over owns the run's state).
          console.error(`hub: ${reason}: stopping, so that two coordinators never run at once`);
          process.exit(3);
        },
      });
      running = coordinator.running;
    } else {
      running = await startHub(options, { host, port, adminToken, log: console.log }, checkpoints);
    }
    const { hub, url } = running;
    console.log(
      `hub: ${options.mode} mode, model ${options.model} (${hub.layout.totalLength.toLocaleString('en')} parameters), ` +
        `${options.shards} shard(s)${cluster ? ' on NATS' : ''}, ${options.optimizer} lr ${options.learningRate}, batch ${options.batchSize}`,
    );
    if (options.mode === 'local') console.log(`hub: ${describeLocalMode(options)}`);
    console.log(`hub: dashboard ${url}/`);
    console.log(`hub: worker    ${url}/worker   (open it in any browser to lend it to training)`);
    console.log(`hub: status    ${url}/api/status`);
    console.log(`hub: metrics   ${url}/metrics`);
    if (cluster) {
      console.log(
        `hub: gateways  npm start -- --nats ${cluster.natsUrl} --role gateway --subject-prefix ` +
          `${cluster.subjectPrefix} --port <port>   (more addresses for workers, any machine)`,
      );
    }
    const what = cluster ? 'checkpoints of the run (the shards keep their own)' : 'checkpoints';
    console.log(`hub: ${what} every ${checkpoints.intervalMs / 1000} s in ${checkpoints.dir}`);
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
    stop = (signal) => {
      console.log(`hub: ${signal}, writing a last checkpoint and shutting down`);
      return coordinator ? coordinator.close() : running.close();
    };
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
}

/** `--role gateway`: pages, examples and worker sockets for the coordinator's run. */
async function runGateway({ host, port }: HubCommandLine, cluster: ClusterRole & { role: 'gateway' }) {
  try {
    console.log(`gateway: asking the coordinator on NATS ${cluster.natsUrl} for its run`);
    const gateway = await startGateway({
      natsUrl: cluster.natsUrl,
      subjectPrefix: cluster.subjectPrefix,
      host,
      port,
      log: console.log,
    });
    const { config } = gateway.coordinator.setup;
    console.log(
      `gateway: ${gateway.coordinator.mode} mode, model ${config.model} (${config.params.toLocaleString('en')} ` +
        `parameters), ${config.shards.length} shard(s) on NATS; the dashboard is the coordinator's`,
    );
    console.log(`gateway: worker    ${gateway.url}/worker   (open it in any browser to lend it to training)`);
    console.log(`gateway: status    ${gateway.url}/api/status   (the coordinator's)`);
    onSignal((signal) => {
      console.log(`gateway: ${signal}, shutting down`);
      return gateway.close();
    }, 'gateway');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      console.error(`gateway: port ${port} on ${host} is in use; pick another with --port (or --port 0).`);
    } else {
      console.error('gateway: failed to start:', error instanceof Error ? error.message : error);
    }
    process.exit(1);
  }
}

/** `--role shard`: one shard actor served on NATS, with its own checkpoints. */
async function runShard({ options, checkpoints }: HubCommandLine, cluster: ClusterRole & { role: 'shard' }) {
  const index = cluster.shardIndex;
  try {
    const shard = await runShardProcess({
      natsUrl: cluster.natsUrl,
      shardIndex: index,
      shards: options.shards,
      model: options.model,
      optimizer: options.optimizer,
      learningRate: options.learningRate,
      // One seed for every shard of a run: they all slice the same initial model.
      seed: options.seed,
      checkpointDir: checkpoints.dir,
      checkpointEveryMs: checkpoints.intervalMs,
      keepCheckpoints: checkpoints.keep,
      subjectPrefix: cluster.subjectPrefix,
      aggregation: options.aggregate,
      syncLrScaling: options.syncLrScaling,
      log: (line) => console.log(line),
    });
    console.log(
      `shard ${index}: checkpoints every ${checkpoints.intervalMs / 1000} s (while it changes) in ` +
        `${shardCheckpointDir(checkpoints.dir, index)}`,
    );
    let stopping = false;
    onSignal((signal) => {
      stopping = true;
      console.log(`shard ${index}: ${signal}, writing a last checkpoint and shutting down`);
      return shard.close();
    }, `shard ${index}`);
    void shard.closed.then((error) => {
      if (stopping) return;
      console.error(
        `shard ${index}: the NATS connection closed for good${error ? `: ${error.message}` : ''}`,
      );
      process.exit(1);
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`shard ${index}: failed to start: ${message}`);
    process.exit(1);
  }
}

/** Ctrl-C / SIGTERM: `stop` once (a second signal while stopping is ignored), then exit. */
function onSignal(stop: (signal: string) => Promise<unknown>, who: string): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`${who}: shutdown failed:`, error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

/** Local mode's settings in one line, as the hub prints them at start. */
function describeLocalMode(options: HubOptions): string {
  const rounds = options.localBuffer === undefined ? 'rounds' : `buffers of ${options.localBuffer} changes`;
  const time = options.roundSecs === undefined ? '' : ` or ${options.roundSecs} s`;
  const outer =
    options.outerOptimizer === 'average'
      ? 'outer average (FedAvg)'
      : `outer nesterov lr ${options.outerLr} momentum ${options.outerMomentum}`;
  const changes = options.compressChanges === 'fp16' ? 'fp16' : 'float32';
  return `local ${rounds}: ${options.localSteps} inner steps${time} per change, ${outer}, changes as ${changes}`;
}
