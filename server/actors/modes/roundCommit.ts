import { ErrorCode, HubError } from '../../../shared/errors.js';
import type { PushResult, RoundRecord } from '../coordinatorTypes.js';
import type { ShardRef } from '../ShardRef.js';
import type { AppliedRound, Contribution, Round } from './Round.js';
import type { ModeHost } from './TrainingStrategy.js';

/**
 * Closes a round on every shard or on none, in two phases. Accumulates still under way are waited
 * for first, so that the round's list of pushes is final; every shard is asked to prepare the round
 * with the push ids it holds; only when all are ready is it applied everywhere (`apply`), the global
 * step advancing and the waiting pushes answered. Else it is dropped everywhere, nothing is applied
 * nor counted, and its pushes are refused ROUND_ABORTED (the gateway counts those refusals; no round
 * record, so the dashboard shows no applied round): their workers pull again.
 *
 * Still not atomic: a shard that dies between its prepare and its apply (the applies go out in the
 * turn the last prepare answers, so the window is about one round trip) leaves the others applied and
 * itself not; its restart from its checkpoint loses updates anyway (README: what survives a shard
 * restart). The waiting pushes then hear that shard's error, and the global step stays.
 */
export async function commitRound(
  host: ModeHost,
  round: Round,
  kind: RoundRecord['kind'],
  apply: () => Promise<AppliedRound>,
): Promise<void> {
  await Promise.all(round.accumulating);
  try {
    if (round.received.size === 0) {
      // Every push's accumulate failed: nothing waits, but a shard may hold part of one.
      await dropOnShards(host.shards, round.id);
      return;
    }
    const notReady = await prepareOnShards(host.shards, round.id, round.received.values());
    if (notReady.length > 0) {
      await dropOnShards(host.shards, round.id);
      const error = roundAbortedError(round.id, notReady);
      for (const waiter of round.waiting) waiter.reject(error);
      return;
    }
    const applied = await apply();
    applied.versions.forEach((version, index) => host.noteShardVersion(index, version));
    const globalStep = host.applied(round.examples, round.lossSum / round.received.size);
    const closedAt = host.now();
    host.recordRound({
      id: round.id,
      closedAt,
      durationMs: closedAt - round.openedAt,
      gradients: round.received.size,
      participants: round.waitedFor,
      kind,
      ...applied.record,
    });
    const result: PushResult = { globalStep, staleness: 0 };
    for (const waiter of round.waiting) waiter.resolve(result);
  } catch (error) {
    for (const waiter of round.waiting) waiter.reject(error as Error);
  }
}

/**
 * Phase one of closing a round on every shard: each is asked whether it holds exactly the round's
 * contributions that touched it (a shard restarted mid-round lost its sums; a push whose accumulate
 * failed on another shard is one the round does not count). Resolves to the shards that were not
 * ready, or did not answer; empty when every shard is ready and the round may be applied.
 */
export async function prepareOnShards(
  shards: readonly ShardRef[],
  round: number,
  contributions: Iterable<Contribution>,
): Promise<number[]> {
  const byShard = shards.map((): string[] => []);
  for (const { pushId, shards: touched } of contributions) {
    for (const index of touched) byShard[index].push(pushId);
  }
  const replies = await Promise.allSettled(
    shards.map((shard, index) => shard.ask({ type: 'prepareRound', round, contributions: byShard[index] })),
  );
  return replies.flatMap((reply, index) =>
    reply.status === 'fulfilled' && reply.value.ready ? [] : [index],
  );
}

/**
 * The round closes on no shard: each discards its pending sums. Best effort: a shard that does not
 * answer has lost them already (or drops them when the next round's first accumulate replaces them),
 * and its prepare said not ready, so it cannot apply them.
 */
export async function dropOnShards(shards: readonly ShardRef[], round: number): Promise<void> {
  await Promise.allSettled(shards.map((shard) => shard.ask({ type: 'dropRound', round })));
}

/** What the pushes of an aborted round are told: nothing of them was applied anywhere; pull again. */
export function roundAbortedError(round: number, notReady: readonly number[]): HubError {
  return new HubError(
    ErrorCode.RoundAborted,
    `round ${round} was not applied: shard(s) ${notReady.join(', ')} did not hold all of its pushes ` +
      `(a shard restarting?), so no shard applied it; the worker will pull again and push for the next round`,
  );
}
