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
  readonly hub: AccuracyArm;
  readonly local: AccuracyArm;
  /** hub seconds / local seconds */
  readonly ratio: number | null;
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
  /** Pushes refused or lost in both arms. */
  readonly errors: number;
}
