import { ErrorCode, HubError } from '../../../shared/errors.js';
import type { GradientPush, PushResult, WorkAssignment, WorkerRecord } from '../coordinatorTypes.js';
import type { LocalRoundsOptions } from './LocalRounds.js';
import type { Contribution } from './Round.js';
import { dropOnShards, prepareOnShards, roundAbortedError } from './roundCommit.js';
import type { ModeHost, TrainingStrategy } from './TrainingStrategy.js';
import { pushNorm } from './pushNorm.js';
import { refuseWrongKind } from './updateKind.js';

export interface BufferedLocalOptions extends LocalRoundsOptions {
  /** Changes per buffer: the shards apply the outer optimizer every this many changes. */
  readonly bufferSize: number;
  /** Refuse a change computed from weights more than this many buffers old. */
  readonly maxStaleness?: number;
}

/**
 * Local mode with buffered asynchronous aggregation (FedBuff, Nguyen et al. 2022): nobody waits for
 * a round. A pull hands out the current weights at once, tagged with the current buffer's id; a
 * change joins the buffer open when it arrives, weighted by its examples and discounted by its
 * staleness s (buffers applied since its weights) as 1 / sqrt(1 + s); every `bufferSize` changes
 * (or `roundTimeoutMs` after a buffer's first change) the shards apply the outer optimizer.
 */
export class BufferedLocal implements TrainingStrategy {
  private buffer: Buffer | null = null;
  /** The id weights pulled now are tagged with: the latest buffer the shards applied, plus one. */
  private current: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /**
   * A buffer being prepared and applied (settles either way). A shard holds one pending buffer, and
   * a change of the next one accumulated between this one's prepare and its apply would replace it:
   * changes wait for it (a round trip to the shards) before they are sent.
   */
  private committing: Promise<unknown> | null = null;

  constructor(
    private readonly host: ModeHost,
    private readonly options: BufferedLocalOptions,
    private readonly nextRoundId: () => number,
  ) {
    this.current = nextRoundId();
  }

  get openRound(): number | null {
    return this.current;
  }

  activate(): void {}

  async deactivate(): Promise<void> {
    await this.flush();
  }

  joined(): void {}

  withdraw(): void {}

  refused(): void {}

  nextWork(): Promise<WorkAssignment> {
    const { localSteps, roundTrainMs } = this.options;
    return Promise.resolve({
      round: this.current,
      local:
        roundTrainMs === undefined ? { steps: localSteps } : { steps: localSteps, trainMs: roundTrainMs },
    });
  }

  async push(worker: WorkerRecord, push: GradientPush, trust: number): Promise<PushResult> {
    refuseWrongKind('local', push);
    while (this.committing) await this.committing;
    const base = push.round;
    if (base === undefined || base > this.current) {
      throw new HubError(
        ErrorCode.StaleRound,
        `change for buffer ${base ?? '(none)'} refused: the hub has handed out weights up to buffer ${this.current}; pull again`,
      );
    }
    const staleness = this.current - base;
    const { maxStaleness } = this.options;
    if (maxStaleness !== undefined && staleness > maxStaleness) {
      throw new HubError(
        ErrorCode.TooStale,
        `change is ${staleness} buffers stale (limit ${maxStaleness}); pull fresh weights`,
      );
    }
    const buffer = (this.buffer ??= this.openBuffer());
    buffer.contributions.push({ pushId: push.pushId, shards: [...push.piecesByShard.keys()] });
    buffer.count++;
    buffer.examples += push.examples;
    buffer.lossSum += push.loss;
    buffer.steps += push.localSteps ?? 0;
    const full = buffer.count >= this.options.bufferSize;
    if (full) this.buffer = null;
    // Sent in this same turn: every shard gets this change before the buffer's apply, and nothing of
    // the next buffer comes between them.
    const weight = (push.examples * trust) / Math.sqrt(1 + staleness);
    const accumulated = Promise.all(
      [...push.piecesByShard].map(([index, pieces]) =>
        this.host.shards[index].ask({
          type: 'accumulate',
          round: buffer.id,
          contribution: push.pushId,
          pieces,
          weight,
        }),
      ),
    );
    const applied = full ? this.apply(buffer) : null;
    // Awaited below, unless this push's own accumulate fails first: its abort must not go unhandled.
    applied?.catch(() => undefined);
    await accumulated;
    this.host.credit(worker, push.examples);
    worker.localSteps = push.localSteps ?? 0;
    worker.changeNorm = pushNorm(push);
    const globalStep = applied ? await applied : this.host.globalStep();
    return { globalStep, staleness };
  }

  dropForReset(): void {
    this.buffer = null;
    this.clearTimer();
    this.current = this.nextRoundId();
  }

  close(): void {
    this.clearTimer();
  }

  private openBuffer(): Buffer {
    this.clearTimer();
    const buffer: Buffer = {
      id: this.current,
      contributions: [],
      count: 0,
      examples: 0,
      lossSum: 0,
      steps: 0,
      openedAt: this.host.now(),
    };
    this.timer = setTimeout(() => void this.flush(), this.options.roundTimeoutMs);
    return buffer;
  }

  /**
   * Applies what the open buffer holds (its deadline passed, or the mode is switched). Its pushes
   * were answered already: a buffer that fails to apply has nobody left to tell.
   */
  private async flush(): Promise<void> {
    const buffer = this.buffer;
    if (buffer === null) return;
    this.buffer = null;
    await this.apply(buffer).catch(() => undefined);
  }

  /**
   * Two phases, as a round's close (roundCommit.ts): applied on every shard only once each holds
   * exactly the buffer's changes, else dropped on all (the push that filled it hears ROUND_ABORTED).
   * The prepares are sent in the turn of the buffer's last accumulate, after it on every shard.
   */
  private apply(buffer: Buffer): Promise<number> {
    const applying = this.commit(buffer);
    const settled: Promise<unknown> = applying
      .catch(() => undefined)
      .then(() => {
        if (this.committing === settled) this.committing = null;
      });
    this.committing = settled;
    return applying;
  }

  private async commit(buffer: Buffer): Promise<number> {
    this.clearTimer();
    this.current = this.nextRoundId();
    const notReady = await prepareOnShards(this.host.shards, buffer.id, buffer.contributions);
    if (notReady.length > 0) {
      await dropOnShards(this.host.shards, buffer.id);
      throw roundAbortedError(buffer.id, notReady);
    }
    const replies = await Promise.all(
      this.host.shards.map((shard) =>
        shard.ask({ type: 'applyOuterRound', round: buffer.id, outer: this.options.outer }),
      ),
    );
    replies.forEach((reply, index) => this.host.noteShardVersion(index, reply.version));
    const globalStep = this.host.applied(buffer.examples, buffer.lossSum / buffer.count);
    const closedAt = this.host.now();
    this.host.recordRound({
      id: buffer.id,
      closedAt,
      durationMs: closedAt - buffer.openedAt,
      gradients: buffer.count,
      participants: buffer.count,
      kind: 'local',
      changeNorm: Math.sqrt(replies.reduce((sum, reply) => sum + reply.changeNorm ** 2, 0)),
      localSteps: buffer.steps / buffer.count,
    });
    return globalStep;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The changes joining one application of the outer optimizer. */
interface Buffer {
  readonly id: number;
  /** Every change added, under its push id: what each shard must hold when the buffer is applied. */
  readonly contributions: Contribution[];
  count: number;
  examples: number;
  lossSum: number;
  steps: number;
  readonly openedAt: number;
}
