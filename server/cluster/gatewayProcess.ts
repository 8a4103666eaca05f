import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Server as SocketServer, type Server } from 'socket.io';
import { layoutFromShapes } from '../../shared/layout.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.js';
import { loadMnist } from '../data/mnist.js';
import { modelExportCache } from '../export/modelExportCache.js';
import { attachWorkerGateway } from '../gateway/WorkerGateway.js';
import { workerGuards, workerSocketOptions } from '../gateway/workerSocketLimits.js';
import { internalErrors } from '../http/internalErrors.js';
import { createHttpApp } from '../http/routes.js';
import { mountStaticClient } from '../http/staticClient.js';
import { relayDashboard } from './dashboardRelay.js';
import { createHubMetrics } from '../metrics/hubMetrics.js';
import { ShardTraffic } from '../metrics/ShardTraffic.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { NatsPayloadTooLargeError } from './clusterErrors.js';
import { NatsShardRef } from './NatsShardRef.js';
import { RemoteCoordinator } from './RemoteCoordinator.js';
import { COORDINATOR_SHARD_TIMEOUT_MS, RetryableShardRef } from './remoteShards.js';
import { coordinatorSubject } from './subjects.js';

/** Room for a push's header (JSON: ids, versions, loss) beside its floats, in bytes. */
const PUSH_HEADER_BYTES = 4096;

export interface GatewayProcessOptions {
  readonly natsUrl: string;
  readonly subjectPrefix: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log?: (line: string) => void;
  readonly logError?: (message: string, error: unknown) => void;
}

export interface RunningGateway {
  /** e.g. http://127.0.0.1:8081 */
  readonly url: string;
  readonly port: number;
  readonly coordinator: RemoteCoordinator;
  close(): Promise<void>;
}

/**
 * `--role gateway`: serves the worker page, the training examples and the workers' sockets, as the
 * coordinator does, for a run whose coordinator is another process. Joins, pushes, leases and the
 * ledger are the coordinator's (over NATS, RemoteCoordinator); pulls read the shard processes' snapshots
 * directly (NatsShardRefs), and GET /api/status is the coordinator's own, so every gateway agrees. The
 * run's model, shards and settings come from the coordinator: a gateway takes no training flags.
 */
export async function startGateway(options: GatewayProcessOptions): Promise<RunningGateway> {
  const log = options.log ?? (() => undefined);
  const logError = options.logError ?? ((message, error) => console.error(`gateway: ${message}:`, error));
  let connection: NatsConnection;
  try {
    connection = await connect({ servers: options.natsUrl, name: 'gateway', maxReconnectAttempts: -1 });
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${options.natsUrl}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const http = createServer();
  let coordinator: RemoteCoordinator | undefined;
  try {
    coordinator = await RemoteCoordinator.connect({ connection, subjectPrefix: options.subjectPrefix, log });
    const remote = coordinator;
    const { config, options: run } = remote.setup;
    const layout = layoutFromShapes(config.layout);
    const pushBytes = layout.totalLength * 4 + PUSH_HEADER_BYTES;
    const max = connection.info?.max_payload;
    if (max !== undefined && pushBytes > max) {
      throw new NatsPayloadTooLargeError(
        0,
        coordinatorSubject(options.subjectPrefix, 'push'),
        "a whole-model push to the coordinator (the gradient's pieces for every shard)",
        pushBytes,
        max,
      );
    }
    const shards = config.shards.map(
      ({ index }) =>
        new RetryableShardRef(
          new NatsShardRef({
            connection,
            index,
            subjectPrefix: options.subjectPrefix,
            timeoutMs: COORDINATOR_SHARD_TIMEOUT_MS,
          }),
          log,
        ),
    );
    // The model download builds the TF.js model; examples are served from this machine's MNIST copy.
    await initNodeTf();
    const mnist = await loadMnist();
    const status = () => remote.hubStatus();
    const app = createHttpApp({
      status,
      volunteers: () => remote.volunteers(),
      metrics: createHubMetrics(status),
      train: mnist.train,
      modelArtifacts: modelExportCache(
        config.model,
        () => remote.status().globalStep,
        async () => {
          const snapshots = await Promise.all(shards.map((shard) => shard.ask({ type: 'pull' })));
          const flat = new Float32Array(layout.totalLength);
          snapshots.forEach((s, i) => flat.set(s.weights, config.shards[i].offset));
          return flat;
        },
      ),
      maxExamplesPerRequest: Math.max(run.unitSize, 4096),
    });
    mountStaticClient(app);
    app.use(internalErrors(logError));
    http.on('request', app);
    const io = new SocketServer<ClientToServerEvents, ServerToClientEvents>(
      http,
      workerSocketOptions(layout.totalLength),
    );
    const stopDashboard = relayDashboard({
      io: io as unknown as Server,
      connection,
      subjectPrefix: options.subjectPrefix,
      onError: (error) => logError('dashboard relay from the coordinator failed', error),
    });
    attachWorkerGateway(io, {
      coordinator: remote,
      shards,
      shardRanges: config.shards,
      layout,
      // The work checks run on an evaluation thread, which gateway processes do not start (yet).
      config: { ...config, knownAnswer: false },
      traffic: new ShardTraffic(config.shards.length),
      ...workerGuards(run, layout.totalLength),
      logError,
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port, options.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const { port } = http.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    return {
      url: `http://${host}:${port}`,
      port,
      coordinator: remote,
      async close() {
        await stopDashboard();
        await io.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await remote.close();
        if (!connection.isClosed()) await connection.drain().catch(() => connection.close());
      },
    };
  } catch (error) {
    await coordinator?.close();
    http.close();
    await connection.close();
    throw error;
  }
}
