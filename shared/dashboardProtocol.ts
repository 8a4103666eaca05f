import type { AdminAction, AdminActionReply, AdminErrorBody } from './adminActions.js';
import type { ModelName } from './models.js';
import type { Compression, OuterOptimizerName, TrainingMode } from './protocol.js';

/**
 * What the hub tells dashboard viewers, on the `/dashboard` namespace: the viewer's role
 * (`dashboard:role`), the whole history at once on connect (`dashboard:history`), then one
 * `dashboard:update` about every second. Figures only, small: weight histograms and filter images are
 * computed on the hub. Viewers are read-only; a dashboard that connected with the admin token
 * (`DashboardAuth`) may also send `admin:action`.
 */
export const DASHBOARD_NAMESPACE = '/dashboard';

/** Test digits (the first N of the test set) whose current predictions the dashboard shows. */
export const SAMPLE_DIGIT_COUNT = 32;

/** One sample of the run's time series, taken every update (downsampled as the run grows). */
export interface HistoryPoint {
  /** Seconds since the run started. */
  readonly t: number;
  readonly globalStep: number;
  readonly examplesSeen: number;
  /** Training examples per second, all workers, over the last interval. */
  readonly examplesPerSec: number;
  /** Accepted pushes per second over the last interval. */
  readonly pushesPerSec: number;
  readonly trainLoss: number | null;
  readonly testAccuracy: number | null;
  readonly testLoss: number | null;
  readonly workers: number;
  /** L2 norm of each layer's weights, in `RunInfo.tensors` order. */
  readonly norms: readonly number[];
}

/**
 * Local mode's settings (`--local-steps`, `--round-secs`, `--outer-*`, `--compress-changes`). The run
 * carries them in every mode: the operator may switch to local mode from the Admin panel.
 */
export interface LocalSettings {
  /** Inner steps each worker takes on a round's weights before it pushes its change. */
  readonly localSteps: number;
  /** Seconds of training a round allows (a worker stops at this or at `localSteps`); null: no limit. */
  readonly roundSecs: number | null;
  /** Buffered (FedBuff, `--local-buffer`): no rounds, the outer step every this many changes; null: rounds. */
  readonly localBuffer: number | null;
  readonly outerOptimizer: OuterOptimizerName;
  /** nesterov: the outer learning rate and momentum (average applies the mean change, lr 1, no momentum). */
  readonly outerLr: number;
  readonly outerMomentum: number;
  /** How workers encode their weight changes. */
  readonly compressChanges: Compression;
}

export interface RunInfo {
  readonly mode: TrainingMode;
  /** Local mode's settings, whatever the mode is now. */
  readonly local: LocalSettings;
  readonly model: ModelName;
  readonly params: number;
  readonly optimizer: string;
  readonly learningRate: number;
  readonly batchSize: number;
  readonly shardCount: number;
  /** Names of the model's tensors, e.g. `conv1/kernel`. */
  readonly tensors: readonly string[];
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly unitsPerEpoch: number;
}

export interface WorkerRow {
  readonly id: string;
  /** The volunteer's public name: the same across its reconnects. */
  readonly volunteer: string;
  /** `--trust`: the volunteer's trust in [0, 1]; null without it. */
  readonly trust: number | null;
  /** `--spot-check`: this worker's pushes the hub recomputed that matched, and that did not. */
  readonly checks: { readonly verified: number; readonly failed: number };
  readonly backend: string;
  readonly device?: string;
  readonly examplesPerSec: number;
  /** Accepted pushes: gradients (async, sync) or weight changes (local). */
  readonly steps: number;
  /** Examples behind accepted pushes. */
  readonly credit: number;
  /** Local mode: inner steps behind the worker's last accepted weight change (0 before any). */
  readonly localSteps: number;
  /** Local mode: L2 norm of the worker's last accepted weight change (null before any). */
  readonly changeNorm: number | null;
  readonly refused: Readonly<Record<string, number>>;
  readonly connectedAt: number;
  readonly lastSeen: number;
}

/** One closed round. */
export interface RoundRow {
  readonly id: number;
  /** 'sync': gradients averaged by the inner rule; 'local': weight changes, outer optimizer. */
  readonly kind: 'sync' | 'local';
  readonly durationMs: number;
  /** Pushes combined: gradients (sync) or weight changes (local). */
  readonly gradients: number;
  /** Workers the round waited for. */
  readonly participants: number;
  /** Local: L2 norm of the combined change the outer optimizer applied; null for a sync round. */
  readonly changeNorm: number | null;
  /** Local: mean inner steps behind the round's changes; null for a sync round. */
  readonly localSteps: number | null;
}

export interface ShardRow {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  readonly version: number;
  readonly updatesPerSec: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** A histogram of one tensor's values: `counts[i]` values in [min + i*w, min + (i+1)*w). */
export interface TensorHistogram {
  readonly name: string;
  readonly shape: readonly number[];
  readonly min: number;
  readonly max: number;
  readonly counts: readonly number[];
  readonly l2: number;
}

/** Greyscale images of what the first layer learned, one byte per pixel, each image scaled to 0..255. */
export interface FilterImages {
  /** What the images are, e.g. 'conv1/kernel: 8 filters 5x5'. */
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly count: number;
  /** count x height x width bytes, row-major. */
  readonly pixels: Uint8Array;
}

/** Fixed test digits whose predictions the dashboard shows. Sent once, with the history. */
export interface SampleDigits {
  readonly count: number;
  /** count x 28 x 28 grey levels. */
  readonly pixels: Uint8Array;
  readonly labels: readonly number[];
}

export interface DashboardUpdate {
  readonly at: number;
  readonly point: HistoryPoint;
  readonly run: {
    readonly globalStep: number;
    readonly examplesSeen: number;
    readonly epoch: number;
    readonly round: number | null;
    readonly testAccuracy: number | null;
    readonly testLoss: number | null;
    readonly trainLoss: number | null;
  };
  readonly workers: readonly WorkerRow[];
  readonly shards: readonly ShardRow[];
  readonly refusals: Readonly<Record<string, number>>;
  /** Async: applied pushes by staleness (last bucket: that many or more). */
  readonly staleness: readonly number[];
  /** Sync and local: recent closed rounds (of either kind after a mode switch), oldest first. */
  readonly rounds: readonly RoundRow[];
  readonly events: readonly {
    readonly at: number;
    readonly kind: 'join' | 'leave';
    readonly workerId: string;
    readonly backend: string;
  }[];
  /** Recomputed every few seconds; absent when unchanged. */
  readonly histograms?: readonly TensorHistogram[];
  readonly filters?: FilterImages;
  /** Predicted class of each sample digit at the last evaluation. */
  readonly predictions: readonly number[] | null;
}

export interface DashboardHistory {
  readonly run: RunInfo;
  readonly points: readonly HistoryPoint[];
  readonly samples: SampleDigits;
  readonly latest: DashboardUpdate | null;
}

/** What a dashboard sends in the socket.io handshake (`io(url, { auth })`). */
export interface DashboardAuth {
  /** The hub's admin token, from the `#admin=` link; absent for a viewer. */
  readonly adminToken?: string;
}

/** Sent to each dashboard on connect: may it change the run? */
export interface DashboardRole {
  readonly admin: boolean;
  /** The handshake carried a token and it was not the admin token. */
  readonly tokenRefused?: boolean;
}

export interface DashboardServerEvents {
  'dashboard:role': (role: DashboardRole) => void;
  'dashboard:history': (history: DashboardHistory) => void;
  'dashboard:update': (update: DashboardUpdate) => void;
  /** A refusal that could not be sent as an ack (an `admin:action` without ack callback). */
  'hub:error': (error: AdminErrorBody & { event: string }) => void;
}

/** Viewers send nothing; an admin sends actions, each answered in its ack. */
export interface DashboardClientEvents {
  'admin:action': (action: AdminAction, ack: (reply: AdminActionReply) => void) => void;
}
