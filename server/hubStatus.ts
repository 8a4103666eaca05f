import type { ModelName } from '../shared/models.js';
import type { TrainingMode } from '../shared/protocol.js';
import type { ShardStatus } from './actors/ShardActor.js';

/** What GET /api/status answers; /metrics serves the same figures. */
export interface HubStatus {
  readonly protocolVersion: number;
  readonly mode: TrainingMode;
  readonly model: { readonly name: ModelName; readonly params: number };
  readonly optimizer: string;
  /** The current learning rate (the operator may have changed it). */
  readonly learningRate: number;
  /** The operator paused training: workers wait, the weights stay. */
  readonly paused: boolean;
  readonly batchSize: number;
  readonly shards: readonly ShardStatus[];
  readonly globalStep: number;
  readonly examplesSeen: number;
  readonly pushesAccepted: number;
  /** Passes over the training set, from completed work units (fractional). */
  readonly epoch: number;
  /** Sync mode: the open round, if any. */
  readonly round: number | null;
  readonly trainLoss: number | null;
  readonly testAccuracy: number | null;
  readonly testLoss: number | null;
  /** When the figures above were measured: the global step and examples seen of those weights. */
  readonly evaluation: {
    readonly globalStep: number;
    readonly examplesSeen: number;
    readonly examples: number;
    /** When it was measured (epoch ms); one carried over from a checkpoint keeps its own time. */
    readonly at: number;
  } | null;
  readonly examplesPerSec: number;
  /** Refused messages by error code since the hub started. */
  readonly refusals: Readonly<Record<string, number>>;
  readonly uptimeSec: number;
  readonly workers: readonly {
    readonly id: string;
    readonly backend: string;
    readonly device?: string;
    readonly steps: number;
    readonly examples: number;
    readonly examplesPerSec: number;
  }[];
}
