import { RateMeter } from '../metrics/RateMeter.js';
import type { CoordinatorCheckpoint, RoundRecord } from './coordinatorTypes.js';

/** Smoothing of the reported training loss (exponential moving average over batches). */
const LOSS_SMOOTHING = 0.1;
export const MAX_STALENESS_BUCKET = 16;
const RECENT_ROUNDS = 120;

/**
 * The run's counters: the global step, examples and pushes, the smoothed loss, refusals by code,
 * the staleness histogram, recent rounds and the shards' versions as last seen. What a checkpoint
 * keeps of the Coordinator, and what a reset (partly) zeroes.
 */
export class RunCounters {
  globalStep = 0;
  examplesSeen = 0;
  pushesAccepted = 0;
  trainLoss: number | null = null;
  nextRoundId = 0;
  readonly shardVersions: number[];
  readonly refusals: Record<string, number> = {};
  readonly staleness = new Array<number>(MAX_STALENESS_BUCKET + 1).fill(0);
  readonly recentRounds: RoundRecord[] = [];
  readonly throughput: RateMeter;

  constructor(shardCount: number, now: () => number, saved?: CoordinatorCheckpoint) {
    this.shardVersions = new Array<number>(shardCount).fill(0);
    this.throughput = new RateMeter(10_000, now);
    if (!saved) return;
    this.globalStep = saved.globalStep;
    this.examplesSeen = saved.examplesSeen;
    this.pushesAccepted = saved.pushesAccepted;
    this.trainLoss = saved.trainLoss;
    this.nextRoundId = saved.nextRoundId;
    saved.shardVersions.forEach((v, i) => (this.shardVersions[i] = v));
    Object.assign(this.refusals, saved.refusals);
    saved.staleness.forEach((n, i) => (this.staleness[i] = n));
  }

  /** One update applied to the weights (an async step or a closed round): the new global step. */
  applied(examples: number, loss: number): number {
    this.globalStep++;
    this.examplesSeen += examples;
    this.throughput.record(examples);
    this.trainLoss =
      this.trainLoss === null ? loss : this.trainLoss + LOSS_SMOOTHING * (loss - this.trainLoss);
    return this.globalStep;
  }

  countRefusal(code: string): void {
    this.refusals[code] = (this.refusals[code] ?? 0) + 1;
  }

  countStaleness(staleness: number): void {
    this.staleness[Math.min(staleness, MAX_STALENESS_BUCKET)]++;
  }

  recordRound(record: RoundRecord): void {
    pushBounded(this.recentRounds, record, RECENT_ROUNDS);
  }

  /** The operator's reset: training counters start over; refusals and round ids carry on. */
  reset(): void {
    this.globalStep = 0;
    this.examplesSeen = 0;
    this.pushesAccepted = 0;
    this.trainLoss = null;
    this.staleness.fill(0);
    this.recentRounds.length = 0;
  }

  checkpoint(): CoordinatorCheckpoint {
    return {
      globalStep: this.globalStep,
      examplesSeen: this.examplesSeen,
      pushesAccepted: this.pushesAccepted,
      trainLoss: this.trainLoss,
      nextRoundId: this.nextRoundId,
      shardVersions: [...this.shardVersions],
      refusals: { ...this.refusals },
      staleness: [...this.staleness],
    };
  }
}

/** Appends, dropping the oldest entries beyond `limit`. */
export function pushBounded<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}
