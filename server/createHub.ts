import type { Server as HttpServer } from 'node:http';
import { Server as SocketServer, type Server, type ServerOptions } from 'socket.io';
import { SAMPLE_DIGIT_COUNT, type SampleDigits } from '../shared/dashboardProtocol.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import { shardRanges, type ParameterLayout, type ShardRange } from '../shared/layout.js';
import { IMAGE_PIXELS } from '../shared/models.js';
import {
  PROTOCOL_VERSION,
  type ClientToServerEvents,
  type RunConfig,
  type ServerToClientEvents,
} from '../shared/protocol.js';
import { Coordinator } from './actors/Coordinator.js';
import { ShardActor } from './actors/ShardActor.js';
import { LocalShardRef, type ShardRef } from './actors/ShardRef.js';
import type { MnistData, MnistSplit } from './data/mnist.js';
import { UnitPool } from './data/UnitPool.js';
import type { EvaluationResult } from './evaluation/messages.js';
import { PeriodicEvaluation, type Evaluation } from './evaluation/PeriodicEvaluation.js';
import { AddressBans } from './gateway/AddressBans.js';
import { ConnectionLimits } from './gateway/ConnectionLimits.js';
import { attachWorkerGateway } from './gateway/WorkerGateway.js';
import { hubRounds, hubWorkers, localSettings, type HubStatus } from './hubStatus.js';
import { mountAdminRoutes } from './http/adminRoutes.js';
import type { RunControl } from './http/runControl.js';
import { internalErrors } from './http/internalErrors.js';
import { createHttpApp } from './http/routes.js';
import { mountStaticClient } from './http/staticClient.js';
import type { RunCheckpoint } from './checkpoints/runCheckpoint.js';
import { layersModelArtifacts, type LayersModelArtifacts } from './export/layersModelArtifacts.js';
import { createHubMetrics } from './metrics/hubMetrics.js';
import { attachAdminChannel } from './dashboard/AdminChannel.js';
import { DashboardFeed } from './dashboard/DashboardFeed.js';
import { ShardTraffic } from './metrics/ShardTraffic.js';
import { initialFlatWeights } from './initialWeights.js';
import { createUpdateRule } from './optimizers/updateRules.js';
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

/** Per-connection budgets: far above what an honest worker sends, low enough to stop a flood. */
const MESSAGES_PER_SECOND = 200;
const MIN_BYTES_PER_SECOND = 32 * 1024 * 1024;
const STRIKES_PER_MINUTE = 100;
/** Strike-outs from one address count towards a ban within this window. */
const BAN_WINDOW_SECS = 600;

/** Bytes of socket.io/engine.io framing a push may carry beyond its gradient. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;

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
  let shards: readonly ShardRef[];
  if (deps.remoteShards) {
    await checkRemoteShards(deps.remoteShards, ranges, options);
    shards = deps.remoteShards;
  } else {
    const rule = createUpdateRule(options.optimizer);
    shards = ranges.map((range) => {
      const saved = resume?.shards[range.index];
      return new LocalShardRef(
        new ShardActor({
          index: range.index,
          offset: range.offset,
          initialWeights: saved?.weights ?? initial.subarray(range.offset, range.offset + range.length),
          rule,
          learningRate: options.learningRate,
          aggregation: options.aggregate,
          syncLrScaling: options.syncLrScaling,
          restore: saved,
        }),
      );
    });
  }
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

  const status = async (): Promise<HubStatus> => {
    const run = coordinator.status();
    const latest = evaluation.latest;
    return {
      protocolVersion: PROTOCOL_VERSION,
      mode: coordinator.mode,
      model: { name: options.model, params: layout.totalLength },
      optimizer: options.optimizer,
      learningRate,
      paused: coordinator.paused,
      batchSize: options.batchSize,
      shards: await Promise.all(shards.map((shard) => shard.ask({ type: 'status' }))),
      globalStep: run.globalStep,
      examplesSeen: run.examplesSeen,
      pushesAccepted: run.pushesAccepted,
      epoch: run.epoch,
      round: run.round,
      rounds: hubRounds(dashboard.roundTally, run.recentRounds),
      ...(coordinator.mode === 'local' ? { local: localSettings(options) } : {}),
      trainLoss: run.trainLoss,
      testAccuracy: latest?.accuracy ?? null,
      testLoss: latest?.loss ?? null,
      evaluation: latest
        ? {
            globalStep: latest.globalStep,
            examplesSeen: latest.examplesSeen,
            examples: latest.examples,
            at: latest.at,
          }
        : null,
      examplesPerSec: run.examplesPerSec,
      refusals: run.refusals,
      uptimeSec: (Date.now() - startedAt) / 1000,
      workers: hubWorkers(run.workers),
    };
  };

  let exported: { step: number; artifacts: Promise<LayersModelArtifacts> } | null = null;
  const app = createHttpApp({
    status,
    volunteers: async () => coordinator.standings(),
    metrics: createHubMetrics(status),
    train: deps.mnist.train,
    modelArtifacts: async () => {
      // One export per global step, however many downloads ask for it.
      const step = coordinator.status().globalStep;
      if (exported?.step !== step)
        exported = { step, artifacts: layersModelArtifacts(options.model, await weights()) };
      return exported.artifacts;
    },
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
    async checkpoint() {
      // One turn of the event loop: the counters, the data cursor and every shard's state (local
      // shards answer synchronously) describe the same moment.
      const counters = coordinator.checkpoint();
      const cursor = units.state();
      const common = {
        savedAt: Date.now(),
        startedAt,
        // The operator may have changed these while the run went on.
        config: { ...options, mode: coordinator.mode, learningRate },
        coordinator: counters,
        units: cursor,
        history: dashboard.historyPoints(),
      };
      // Remote shards checkpoint themselves, each at its own moment (a run checkpoint cannot hold one
      // consistent snapshot of processes that go on applying): the latest measurement stands in.
      if (remote) return { ...common, shards: [], evaluation: evaluation.latest };
      const saved = await Promise.all(shards.map((shard) => shard.ask({ type: 'checkpoint' })));
      const flat = new Float32Array(layout.totalLength);
      saved.forEach((s) => flat.set(s.weights, s.offset));
      const measured = await deps.evaluate(flat);
      return {
        ...common,
        shards: saved,
        evaluation: {
          ...measured,
          globalStep: counters.globalStep,
          examplesSeen: counters.examplesSeen,
          at: Date.now(),
        },
      };
    },
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

/** socket.io's options for workers, sized from the model (floats); a gateway process uses the same. */
export function workerSocketOptions(params: number): Partial<ServerOptions> {
  return {
    transports: ['websocket'],
    // Deflate costs 20-30x throughput and shrinks float32 gradients by under 10%, measured on this machine (README, Benchmark).
    perMessageDeflate: false,
    // The default (1 MB) silently disconnects a socket whose push is larger: size it from the model.
    maxHttpBufferSize: params * 4 + MESSAGE_OVERHEAD_BYTES,
  };
}

/** Per-connection budgets and address bans of a worker gateway, for a model of `params` floats. */
export function workerGuards(
  options: Pick<HubOptions, 'banAfter' | 'banSecs'>,
  params: number,
): { limits: ConnectionLimits; bans: AddressBans } {
  return {
    limits: new ConnectionLimits({
      messagesPerSecond: MESSAGES_PER_SECOND,
      // Room for several whole-model pushes a second from one connection.
      bytesPerSecond: Math.max(MIN_BYTES_PER_SECOND, 16 * params * 4),
      strikesPerMinute: STRIKES_PER_MINUTE,
    }),
    bans: new AddressBans({
      strikeOutsToBan: options.banAfter,
      windowSecs: BAN_WINDOW_SECS,
      banSecs: options.banSecs,
    }),
  };
}

/**
 * Remote shards must split the model as this hub does: one process per range, each answering for
 * exactly its floats. A shard process started with another --model or --shards is refused here, with
 * both splits named, before any worker can push.
 */
async function checkRemoteShards(
  refs: readonly ShardRef[],
  ranges: readonly ShardRange[],
  options: HubOptions,
): Promise<void> {
  if (refs.length !== ranges.length) {
    throw new Error(`${refs.length} remote shard(s) given for --shards ${ranges.length}`);
  }
  const statuses = await Promise.all(refs.map((ref) => ref.ask({ type: 'status' })));
  const wrong = statuses.filter(
    (s, i) => s.index !== i || s.offset !== ranges[i].offset || s.length !== ranges[i].length,
  );
  if (wrong.length > 0) {
    const s = wrong[0];
    const expected = ranges[s.index] ?? ranges[0];
    throw new Error(
      `shard ${s.index} holds floats [${s.offset}, +${s.length}), but --model ${options.model} --shards ` +
        `${options.shards} puts shard ${expected.index} at [${expected.offset}, +${expected.length}): start ` +
        `every shard process and the coordinator with the same --model and --shards`,
    );
  }
}

/** The first `count` test digits, shown on the dashboard with the model's current predictions. */
function sampleDigits(test: MnistSplit, count: number): SampleDigits {
  return {
    count,
    pixels: test.images.slice(0, count * IMAGE_PIXELS),
    labels: Array.from(test.labels.subarray(0, count)),
  };
}
