import type { LinkProfile } from './LinkRelay.js';

/**
 * The shape of bench/results.json and of what the table prints. Rates are medians over the phase's
 * repetitions; every ratio compares two arms measured side by side in the same run. A phase that
 * failed or was not run is null (its error, if any, is in `errors`).
 */
export interface BenchResults {
  readonly version: 1;
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly durationSec: number;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly chromium: string | null;
  };
  /** The code measured: HEAD, and whether the work tree had changes on top of it. */
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
  transport: TransportResult | null;
  apply: ApplyResult | null;
  workerOverhead: WorkerOverheadResult | null;
  timeToAccuracy: TimeToAccuracyResult | null;
  volunteers: VolunteersResult | null;
  compression: CompressionResult | null;
  gateways: GatewaysResult | null;
  coordinatorCost: CoordinatorCostResult | null;
  scale: ScaleResult | null;
  syncLrScaling: SyncLrScalingResult | null;
  dashboard: DashboardResult | null;
  /** Phase name -> error message, for the phases that failed. */
  readonly errors: Record<string, string>;
}

export interface RoundTrips {
  /** Round trips per second, one request in flight (median of the repetitions). */
  readonly hub: number;
  readonly rawWs: number;
  /** hub / rawWs */
  readonly ratio: number | null;
  /** Every repetition, for the curious. */
  readonly hubSamples: readonly number[];
  readonly rawWsSamples: readonly number[];
}

export interface TransportRow {
  readonly size: string;
  /** Gradient / weights bytes each push / pull moves (float32). */
  readonly bytes: number;
  /** How the hub was set up and what each request covers. */
  readonly hubSetup: string;
  readonly pushAck: RoundTrips;
  readonly pull: RoundTrips;
}

export interface TransportResult {
  readonly hubConnections: number;
  readonly rows: readonly TransportRow[];
}

export interface ApplyResult {
  readonly floats: number;
  /** ms per Float32Array.set copy of `floats` floats (median). */
  readonly copyMs: number;
  readonly rules: readonly { readonly rule: string; readonly ms: number; readonly ratio: number | null }[];
  /** The aggregation rules on a round of gradients of the same size (absent in older results). */
  readonly aggregate?: AggregateTiming;
}

/** Figure 2's second table: each `--aggregate` rule combining `gradients` gradients of `floats` floats. */
export interface AggregateTiming {
  readonly gradients: number;
  readonly floats: number;
  /** ms to copy the `gradients` gradients into one buffer (median). */
  readonly copyMs: number;
  /** ms per call (median) and the ratio to the copy. */
  readonly rules: readonly { readonly rule: string; readonly ms: number; readonly ratio: number | null }[];
}

export interface WorkerOverheadResult {
  readonly model: string;
  readonly batchSize: number;
  /** The backend the worker tab's auto choice picked (its name), used again by time to accuracy. */
  readonly chosenBackend: string;
  /** What each arm's auto choice picked, as the page describes it. */
  readonly hubBackend: string;
  readonly localBackend: string;
  readonly hubExamplesPerSec: number;
  readonly localExamplesPerSec: number;
  /** hub / local */
  readonly ratio: number | null;
  readonly hubSamples: readonly number[];
  readonly localSamples: readonly number[];
}

export interface AccuracyArm {
  /** Median wall seconds from the start of training to the first snapshot at or above the target. */
  readonly seconds: number | null;
  /** Examples the target was reached after (median). */
  readonly examples: number | null;
  /** Repetitions that reached the target / run. */
  readonly reached: number;
  readonly runs: number;
  readonly samples: readonly { seconds: number | null; examples: number | null; best: number }[];
}

export interface TimeToAccuracyResult {
  readonly target: number;
  readonly testExamples: number;
  readonly backend: string;
  readonly hubTabs: number;
  /** One hub arm per training mode measured (`--modes`), each against the same lone tab. */
  readonly hubs: readonly {
    readonly mode: string;
    readonly hub: AccuracyArm;
    readonly ratio: number | null;
  }[];
  readonly local: AccuracyArm;
  /** Set in --quick mode: the target is lower than the 0.97. */
  readonly note?: string;
}

export interface VolunteerStage {
  readonly name: 'steady' | 'saturated';
  readonly description: string;
  readonly seconds: number;
  readonly offeredPerSec: number | null;
  readonly pushesPerSec: number;
  readonly pushes: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Hub process CPU (user + system) per acknowledged push. */
  readonly hubCpuMsPerPush: number;
  /** Hub process CPU over the stage, as a share of one core. */
  readonly hubCpuCores: number;
}

export interface VolunteersResult {
  readonly clients: number;
  readonly model: string;
  readonly gradientBytes: number;
  readonly connectSeconds: number;
  readonly connectErrors: number;
  readonly stages: readonly VolunteerStage[];
  /** Hub process RSS, MB: before any client, with every client connected, peak over the phase, at the end. */
  readonly hubRssMb: {
    readonly idle: number;
    readonly connected: number;
    readonly peak: number;
    readonly end: number;
  };
}

export interface CompressionRow {
  readonly scheme: string;
  /** False until the hub implements the scheme: the figures are null and `note` says why. */
  readonly implemented: boolean;
  /** Everything the worker sent to the hub (TCP payload, all messages), per accepted push. */
  readonly wireBytesPerPush: number | null;
  /** The gradient alone, as float32 would carry it, per push. */
  readonly float32GradientBytes: number;
  readonly testAccuracy: number | null;
  /** wireBytesPerPush over float32's. */
  readonly bytesRatio: number | null;
  /** (accuracy - float32's accuracy) x 100. */
  readonly accuracyDeltaPoints: number | null;
  readonly note?: string;
}

export interface CompressionResult {
  readonly model: string;
  readonly examples: number;
  readonly testExamples: number;
  readonly rows: readonly CompressionRow[];
}

export interface SyncLrScalingArm {
  /** Test accuracy after the phase's examples (median of the repetitions). */
  readonly accuracy: number;
  /**
   * Examples of the first of two measurements in a row at or above the target (median; a run that
   * did not get there counts as slowest); null: the median run did not.
   */
  readonly examplesToTarget: number | null;
  /** Sync rounds applied (median): examples / (batch x workers) when every round had every worker. */
  readonly rounds: number;
  readonly samples: readonly number[];
}

export interface SyncLrScalingRow {
  readonly workers: number;
  readonly optimizer: string;
  /** The base rate: what a round of one gradient applies. */
  readonly learningRate: number;
  /** Rounds at lr. */
  readonly none: SyncLrScalingArm;
  /**
   * Rounds at lr x workers, and at lr x sqrt(workers); null: not measured for this optimizer.
   * `errorRatioToNone`: test error (1 - accuracy) over none's; below 1, the scaling gains accuracy.
   */
  readonly linear: (SyncLrScalingArm & { readonly errorRatioToNone: number | null }) | null;
  readonly sqrt: (SyncLrScalingArm & { readonly errorRatioToNone: number | null }) | null;
}

export interface SyncLrScalingResult {
  readonly model: string;
  readonly batchSize: number;
  readonly examples: number;
  /** Test accuracy is measured each time the hub has applied this many more examples. */
  readonly everyExamples: number;
  readonly target: number;
  readonly testExamples: number;
  readonly reps: number;
  readonly rows: readonly SyncLrScalingRow[];
}

export interface GatewaysResult {
  /** Simulated volunteers, each with one push in flight, in both arms. */
  readonly clients: number;
  readonly seconds: number;
  readonly model: string;
  readonly gradientBytes: number;
  readonly shards: number;
  /** Aggregate pushes/s, all clients on one gateway (median of the repetitions). */
  readonly oneGateway: number;
  /** Aggregate pushes/s, the clients split over two gateways. */
  readonly twoGateways: number;
  /** twoGateways / oneGateway */
  readonly ratio: number | null;
  readonly oneSamples: readonly number[];
  readonly twoSamples: readonly number[];
  /** The coordinator process's CPU ms (/proc) per push it accepted, each arm (median); null: none. */
  readonly oneCoordinatorCpuMsPerPush: number | null;
  readonly twoCoordinatorCpuMsPerPush: number | null;
  /** Pushes refused or lost in both arms. */
  readonly errors: number;
}

/** One measured window of figure 7b: the coordinator's CPU and what it counted meanwhile. */
export interface CoordinatorCostSample {
  readonly seconds: number;
  readonly cpuMs: number;
  readonly pushes: number;
  /** Rounds closed (sync, local); null in async mode. */
  readonly rounds: number | null;
}

/** Figure 7b, per mode: the coordinator process's CPU per accepted push and per closed round. */
export interface CoordinatorCostRow {
  readonly mode: string;
  /** Where the clients connected: the gateways, or the coordinator's own URL (see gatewayFailure). */
  readonly via: 'gateways' | 'coordinator';
  /** How the mode failed through gateways, when it was measured on the coordinator instead. */
  readonly gatewayFailure: string | null;
  /** Medians over the windows. */
  readonly cpuMsPerPush: number | null;
  readonly cpuMsPerRound: number | null;
  readonly pushesPerSec: number | null;
  readonly roundsPerSec: number | null;
  /** The coordinator's CPU over a window as a share of one core, under this load and idle. */
  readonly coordinatorCores: number | null;
  readonly idleCores: number | null;
  readonly samples: readonly CoordinatorCostSample[];
  /** Pulls and pushes refused or lost while measuring, and the first distinct messages. */
  readonly errors: number;
  readonly errorExamples: readonly string[];
  /** The mode could not be measured at all. */
  readonly error?: string;
}

export interface CoordinatorCostResult {
  readonly model: string;
  readonly shards: number;
  readonly gateways: number;
  /** Simulated volunteers, each pulling and pushing back to back; every round waits for all. */
  readonly clients: number;
  readonly seconds: number;
  readonly reps: number;
  readonly rows: readonly CoordinatorCostRow[];
}

/** Figure 8 (issue 13): scale past these 2 cores and past loopback, per mode. */
export interface ScaleResult {
  readonly model: string;
  /** The backend every tab used (forced; the first worker tab's auto choice when none was given). */
  readonly backend: string;
  /** The link every relay emulates. */
  readonly link: LinkProfile;
  /** (b)'s DevTools CPU throttling rate. */
  readonly cpuThrottle: number;
  readonly modes: readonly string[];
  readonly efficiency: ScaleEfficiency | null;
  readonly timeToAccuracy: ScaleTimeToAccuracy | null;
  readonly wire: ScaleWire | null;
  /** Part (efficiency, timeToAccuracy) or arm (e.g. "sync, 4 tabs") -> error, for what failed. */
  readonly errors: Record<string, string>;
  /** Set in --quick mode: fewer tabs, a lower target. */
  readonly note?: string;
}

/** (a): one full-speed tab's examples/s through the hub (loopback; home link) over the lone tab's. */
export interface ScaleEfficiency {
  readonly reps: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** The local page alone (no hub protocol, loopback), median examples/s. */
  readonly aloneExamplesPerSec: number;
  readonly aloneSamples: readonly number[];
  readonly rows: readonly ScaleEfficiencyRow[];
}

export interface ScaleEfficiencyRow {
  readonly mode: string;
  readonly loopbackExamplesPerSec: number | null;
  readonly linkExamplesPerSec: number | null;
  /** loopback / alone */
  readonly loopbackRatio: number | null;
  /** link / alone */
  readonly linkRatio: number | null;
  readonly loopbackSamples: readonly number[];
  readonly linkSamples: readonly number[];
  readonly error?: string;
}

/** (b): N throttled tabs, each behind a link of its own, against one throttled tab alone. */
export interface ScaleTimeToAccuracy {
  readonly target: number;
  readonly testExamples: number;
  readonly maxSeconds: number;
  readonly alone: AccuracyArm;
  readonly rows: readonly ScaleAccuracyRow[];
}

export interface ScaleAccuracyRow {
  readonly mode: string;
  readonly tabs: number;
  readonly hub: AccuracyArm | null;
  /** hub seconds / alone seconds */
  readonly ratio: number | null;
  /**
   * When only one arm reached the target, what the ratio is known to be past: above maxSeconds /
   * alone (the hub arm did not reach it), or below hub / maxSeconds (the lone tab did not).
   */
  readonly ratioBound: { readonly side: 'above' | 'below'; readonly value: number } | null;
  /** How far behind their links' schedule the relays wrote (their event loop was busy), ms. */
  readonly relayLateMeanMs: number | null;
  readonly relayLateMaxMs: number | null;
  readonly error?: string;
}

/** (c): bytes through the relays per example the hub accepted, over every (b) run of a mode. */
export interface ScaleWire {
  readonly rows: readonly ScaleWireRow[];
  /** local / async, per example: the exchange (websocket) alone, and everything. */
  readonly localOverAsync: { readonly exchange: number | null; readonly total: number | null };
}

export interface ScaleWireRow {
  readonly mode: string;
  /** Examples the hub had accepted at the end of the runs, summed. */
  readonly examples: number;
  /** The socket.io connection (hello, pulls, pushes, leases), both ways, bytes. */
  readonly websocket: { readonly up: number; readonly down: number };
  /** Every other connection while training: the examples route, /api/status. */
  readonly http: { readonly up: number; readonly down: number };
  readonly exchangeBytesPerExample: number | null;
  readonly dataBytesPerExample: number | null;
  readonly totalBytesPerExample: number | null;
}

/** Figure 10: the dashboard at `/` taking updates while simulated volunteers push. */
export interface DashboardResult {
  /** Simulated volunteers (HubClients in the bench process) pushing throughout. */
  readonly volunteers: number;
  readonly model: string;
  /** The hub's test evaluation while measured (its defaults: the dashboard draws each one). */
  readonly evalIntervalMs: number;
  readonly evalExamples: number;
  /** How often the hub sends viewers an update (its default): the most updates/s there can be. */
  readonly updateIntervalMs: number;
  readonly viewport: { readonly width: number; readonly height: number };
  /** Seconds each window was meant to last (it opens and closes on an update). */
  readonly windowSeconds: number;
  /** Medians over the windows. */
  readonly updatesPerSec: number;
  readonly longestTaskMs: number;
  /** Time in long tasks (> 50 ms) over the window's time, 0..1. */
  readonly longTaskShare: number;
  /** The worst window's longest task. */
  readonly worstLongestTaskMs: number;
  readonly windows: readonly DashboardWindow[];
  /** Pushes the volunteers had accepted per second, and refused, over the windows. */
  readonly pushesPerSec: number;
  readonly refused: number;
  /** Long tasks from opening the page to the first window (loading, the first 50 rows). */
  readonly loadLongTasks: number;
  readonly loadLongestTaskMs: number;
}

export interface DashboardWindow {
  readonly seconds: number;
  readonly updates: number;
  /** How far the global step the page shows moved over the window (training went on). */
  readonly steps: number;
  readonly updatesPerSec: number;
  readonly longTasks: number;
  readonly longestTaskMs: number;
  readonly longTaskShare: number;
}
