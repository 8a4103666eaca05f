/**
 * The composition root of a hub: builds its parts and wires them together on one HTTP server. What
 * the parts do lives in their own files (the status in hubStatusBuilder.ts, checkpoints in
 * checkpoints/captureRunCheckpoint.ts, the model download in export/modelExportCache.ts, the shards
 * in hubShards.ts, the workers' socket limits in gateway/workerSocketLimits.ts).
 */
import type { Server as HttpServer } from 'node:http';
import { Server as SocketServer, type Server } from 'socket.io';
import { SAMPLE_DIGIT_COUNT, type SampleDigits } from '../shared/dashboardProtocol.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import { shardRanges, type ParameterLayout, type ShardRange } from '../shared/layout.js';
import { IMAGE_PIXELS } from '../shared/models.js';
import type { ClientToServerEvents, RunConfig, ServerToClientEvents } from '../shared/protocol.js';
import { Coordinator } from './actors/Coordinator.js';
import type { ShardRef } from './actors/ShardRef.js';
import type { MnistData, MnistSplit } from './data/mnist.js';
import { UnitPool } from './data/UnitPool.js';
import type { EvaluationResult } from './evaluation/messages.js';
import { PeriodicEvaluation, type Evaluation } from './evaluation/PeriodicEvaluation.js';
import { attachWorkerGateway } from './gateway/WorkerGateway.js';
import { workerGuards, workerSocketOptions } from './gateway/workerSocketLimits.js';
import { hubShards } from './hubShards.js';
import { localSettings, type HubStatus } from './hubStatus.js';
import { hubStatusBuilder } from './hubStatusBuilder.js';
import { mountAdminRoutes } from './http/adminRoutes.js';
import type { RunControl } from './http/runControl.js';
import { internalErrors } from './http/internalErrors.js';
import { createHttpApp } from './http/routes.js';
import { mountStaticClient } from './http/staticClient.js';
import { captureRunCheckpoint } from './checkpoints/captureRunCheckpoint.js';
import type { RunCheckpoint } from './checkpoints/runCheckpoint.js';
import { modelExportCache } from './export/modelExportCache.js';
import { createHubMetrics } from './metrics/hubMetrics.js';
import { attachAdminChannel } from './dashboard/AdminChannel.js';
import { DashboardFeed } from './dashboard/DashboardFeed.js';
import { ShardTraffic } from './metrics/ShardTraffic.js';
import { initialFlatWeights } from './initialWeights.js';
import { outerStep, type HubOptions } from './options.js';
import type { UpdateComputer } from './verification/KnownAnswers.js';
import { createWorkChecks } from './verification/workChecks.js';

export interface HubDeps {
  readonly mnist: MnistData;
  /** Test-set evaluation, off the event loop (see Evaluator). */
  readonly evaluate: (weights: Float32Array) => Promise<EvaluationResult>;
  /** Gradients and replays of volunteers' work, off the event loop (the Evaluator's thread too). */
  readonly compute?: UpdateComputer;
  readonly log: (line: string) => void;
  readonly logError: (message: string, error: unknown) => void;
  /** Writes a checkpoint now (an admin action); absent when the hub keeps none. */
  readonly checkpointNow?: () => Promise<{ file: string; globalStep: number }>;
  /** Guards every action that changes the run (HTTP /api/admin/*). */
  readonly adminToken: string;
  /**
   * Shards in other processes (`--role coordinator`: NatsShardRefs), one per shard range in index
   * order; each keeps its own weights and checkpoints. Absent: the hub builds its own in-process shard
   * actors (the embedded default).
   */
  readonly remoteShards?: readonly ShardRef[];
  /** Appended to worker ids (CoordinatorOptions.workerIdSuffix): set by coordinators on NATS. */
  readonly workerIdSuffix?: string;
}

export interface Hub {
  readonly options: HubOptions;
  readonly layout: ParameterLayout;
  readonly shardRanges: readonly ShardRange[];
  /** What a worker hears at hello (and a `--role gateway` process serves its workers by). */
  readonly config: RunConfig;
  readonly coordinator: Coordinator;
  readonly shards: readonly ShardRef[];
  /** The `/dashboard` feed (a `--role coordinator` process relays it to its gateways). */
  readonly dashboard: DashboardFeed;
  status(): Promise<HubStatus>;
  /** Every shard's current weights, concatenated: the model's flat vector. */
  weights(): Promise<Float32Array>;
  evaluateNow(): Promise<Evaluation>;
  /**
   * The whole run state at this moment, with the test accuracy of exactly these weights. With remote
   * shards, the coordinator's state only (no shards: each shard process checkpoints itself).
   */
  checkpoint(): Promise<RunCheckpoint>;
  /**
   * A shutdown's first step: no more pushes are taken (SHUTTING_DOWN), and every one taken is applied
   * and answered. A checkpoint after this holds every push the hub acknowledged.
   */
  stopIntake(): Promise<void>;
  close(): Promise<void>;
}

/** The smallest batch `--target-step-ms` hands a slow worker: below it, gradients are mostly noise. */
const MIN_ADAPTIVE_BATCH = 8;

/**
 * The composition root: builds the shard actors with the model's initial weights (or takes remote
 * ones), the coordinator, the socket gateway, the HTTP routes and the periodic evaluation, all on the
 * given HTTP server.
 */
export async function createHub({
  http,
  options,
  deps,
  resume,
}: {
  http: HttpServer;
  options: HubOptions;
  deps: HubDeps;
  /** Carry on a run from this checkpoint (its settings already checked against `options`). */
  resume?: RunCheckpoint;
}): Promise<Hub> {
  const { layout, weights: initial } = await initialFlatWeights(options.model);
  const ranges = shardRanges(layout.totalLength, options.shards);
  const remote = deps.remoteShards !== undefined;
  const shards = await hubShards({ ranges, options, initial, resume, remoteShards: deps.remoteShards });
  // While a remote shard is down every periodic read fails: its RetryableShardRef has said so once.
  const logError = (message: string, error: unknown): void => {
    if (!(error instanceof HubError && error.code === ErrorCode.ShardUnavailable))
      deps.logError(message, error);
  };
  const units = new UnitPool({
    totalExamples: deps.mnist.train.count,
    unitSize: options.unitSize,
    seed: options.seed,
    restore: resume?.units,
  });
  const coordinator = new Coordinator({
    restore: resume?.coordinator,
    workerIdSuffix: deps.workerIdSuffix,
    mode: options.mode,
    shards,
    units,
    roundTimeoutMs: options.roundTimeoutMs,
    replicasToAggregate: options.replicasToAggregate,
    maxStaleness: options.maxStaleness,
    stalenessLr: options.stalenessLr,
    localSteps: options.localSteps,
    roundTrainMs: options.roundSecs === undefined ? undefined : options.roundSecs * 1000,
    outer: outerStep(options),
    bufferSize: options.localBuffer,
    leaseTimeoutMs: options.leaseTimeoutMs,
    batchSize: options.batchSize,
    screening: { clipNorm: options.clipNorm, trust: options.trust },
    batchSizing:
      options.targetStepMs === undefined
        ? undefined
        : {
            targetStepMs: options.targetStepMs,
            minBatch: MIN_ADAPTIVE_BATCH,
            maxBatch: Math.max(MIN_ADAPTIVE_BATCH, options.unitSize),
            initialBatch: options.batchSize,
          },
  });
  const config: RunConfig = {
    mode: options.mode,
    model: options.model,
    params: layout.totalLength,
    layout: layout.tensors.map(({ name, shape }) => ({ name, shape })),
    shards: ranges,
    batchSize: options.batchSize,
    optimizer: options.optimizer,
    learningRate: options.learningRate,
    roundTimeoutMs: options.roundTimeoutMs,
    compress: options.compress,
    compressChanges: options.compressChanges,
    knownAnswer: options.knownAnswer && deps.compute !== undefined,
  };

  const weights = async (): Promise<Float32Array> => {
    const snapshots = await Promise.all(shards.map((shard) => shard.ask({ type: 'pull' })));
    const flat = new Float32Array(layout.totalLength);
    snapshots.forEach((s, i) => flat.set(s.weights, ranges[i].offset));
    return flat;
  };
  const evaluation = new PeriodicEvaluation({
    intervalMs: options.evalIntervalMs,
    snapshot: async () => {
      // Read the step first and the weights in the same turn: local shards answer synchronously.
      // Remote shards answer a round trip later: their weights may be a few steps past the step.
      const { globalStep, examplesSeen } = coordinator.status();
      return { weights: await weights(), globalStep, examplesSeen };
    },
    evaluate: deps.evaluate,
    onError: (error) => logError('evaluation failed', error),
    latest: resume?.evaluation ?? null,
  });
  const startedAt = resume?.startedAt ?? Date.now();

  const status: () => Promise<HubStatus> = hubStatusBuilder({
    options,
    layout,
    coordinator,
    shards,
    evaluation,
    startedAt,
    learningRate: () => learningRate,
    roundTally: () => dashboard.roundTally,
  });

  const app = createHttpApp({
    status,
    volunteers: async () => coordinator.standings(),
    metrics: createHubMetrics(status),
    train: deps.mnist.train,
    modelArtifacts: modelExportCache(options.model, () => coordinator.status().globalStep, weights),
    maxExamplesPerRequest: Math.max(options.unitSize, 4096),
  });
  let learningRate = options.learningRate;
  const control: RunControl = {
    pause: () => coordinator.setPaused(true),
    resume: () => coordinator.setPaused(false),
    async setLearningRate(rate) {
      await Promise.all(shards.map((shard) => shard.ask({ type: 'setLearningRate', learningRate: rate })));
      learningRate = rate;
      dashboard.runChanged({ learningRate });
    },
    async setMode(mode) {
      await coordinator.setMode(mode);
      dashboard.runChanged({ mode });
    },
    async reset() {
      const { weights: flat } = await initialFlatWeights(options.model);
      await coordinator.reset((index) =>
        flat.subarray(ranges[index].offset, ranges[index].offset + ranges[index].length),
      );
      evaluation.reset();
      dashboard.runChanged({}, true);
    },
    checkpointNow: deps.checkpointNow,
  };
  mountAdminRoutes(app, deps.adminToken, control);
  mountStaticClient(app);
  app.use(internalErrors(deps.logError));
  http.on('request', app);

  const io = new SocketServer<ClientToServerEvents, ServerToClientEvents>(
    http,
    workerSocketOptions(layout.totalLength),
  );
  attachAdminChannel(io, { token: deps.adminToken, control, logError: deps.logError });
  const traffic = new ShardTraffic(ranges.length);
  attachWorkerGateway(io, {
    coordinator,
    shards,
    shardRanges: ranges,
    layout,
    config,
    traffic,
    ...workerGuards(options, layout.totalLength),
    checks: createWorkChecks(options, {
      compute: deps.compute,
      train: deps.mnist.train,
      weights,
      coordinator,
      unitExamples: (unitId) => units.examplesOf(unitId),
      log: deps.log,
    }),
    logError: deps.logError,
  });

  const dashboard = new DashboardFeed({
    // The dashboard namespace has its own event maps, not the workers'.
    io: io as unknown as Server,
    run: {
      mode: options.mode,
      model: options.model,
      params: layout.totalLength,
      optimizer: options.optimizer,
      learningRate: options.learningRate,
      batchSize: options.batchSize,
      shardCount: ranges.length,
      tensors: layout.tensors.map((t) => t.name),
      startedAt,
      unitsPerEpoch: units.unitsPerEpoch,
      local: localSettings(options),
    },
    layout,
    samples: sampleDigits(deps.mnist.test, SAMPLE_DIGIT_COUNT),
    coordinator,
    shards,
    shardOffsets: ranges.map((r) => r.offset),
    traffic,
    latestEvaluation: () => evaluation.latest,
    intervalMs: options.dashboardIntervalMs,
    parameterViewsEveryMs: 3_000,
    history: resume?.history,
    onError: (error) => logError('dashboard update failed', error),
  });

  return {
    options,
    layout,
    shardRanges: ranges,
    config,
    coordinator,
    dashboard,
    shards,
    status,
    weights,
    evaluateNow: () => evaluation.evaluateNow(),
    checkpoint: () =>
      captureRunCheckpoint({
        options,
        layout,
        coordinator,
        units,
        shards,
        remote,
        dashboard,
        evaluation,
        evaluate: deps.evaluate,
        startedAt,
        learningRate: () => learningRate,
      }),
    stopIntake: () => coordinator.stopIntake(),
    async close() {
      evaluation.close();
      dashboard.close();
      coordinator.close();
      await io.close();
      http.off('request', app);
    },
  };
}

/** The first `count` test digits, shown on the dashboard with the model's current predictions. */
function sampleDigits(test: MnistSplit, count: number): SampleDigits {
  return {
    count,
    pixels: test.images.slice(0, count * IMAGE_PIXELS),
    labels: Array.from(test.labels.subarray(0, count)),
  };
}
