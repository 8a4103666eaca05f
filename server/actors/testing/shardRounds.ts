// Test support: shard messages with fresh push ids, and sync / local rounds closed the way the
// coordinator closes them (prepare with every contribution, then apply). Test-only code, no vitest.

import type { ShardActor } from '../ShardActor.js';
import type { GradientPiece, OuterStep, ShardMessage, ShardReplies } from '../shardMessages.js';

let counter = 0;

/** An id no other test message has. */
export function freshId(prefix = 'push'): string {
  return `${prefix}-${++counter}`;
}

/** An async `apply` under a fresh push id. */
export function applyMessage(
  pieces: readonly GradientPiece[],
  lrScale: number,
  pushId = freshId(),
): Extract<ShardMessage, { type: 'apply' }> {
  return { type: 'apply', pushId, pieces, lrScale };
}

/** Per actor, per round: the contributions `accumulate` added. */
const contributed = new WeakMap<ShardActor, Map<number, string[]>>();

/** Accumulates under a fresh contribution id, remembered for `applyRound` / `applyOuterRound`. */
export function accumulate(
  actor: ShardActor,
  round: number,
  pieces: readonly GradientPiece[],
  weight: number,
): ShardReplies['accumulate'] {
  const contribution = freshId('contribution');
  const reply = actor.receive({ type: 'accumulate', round, contribution, pieces, weight });
  const rounds = contributed.get(actor) ?? new Map<number, string[]>();
  contributed.set(actor, rounds);
  rounds.set(round, [...(rounds.get(round) ?? []), contribution]);
  return reply;
}

/** Prepares `round` with every contribution `accumulate` added to it (the apply after throws if not ready). */
export function prepare(actor: ShardActor, round: number): ShardReplies['prepareRound'] {
  const contributions = contributed.get(actor)?.get(round) ?? [];
  contributed.get(actor)?.delete(round);
  return actor.receive({ type: 'prepareRound', round, contributions });
}

export function applyRound(actor: ShardActor, round: number): ShardReplies['applyRound'] {
  prepare(actor, round);
  return actor.receive({ type: 'applyRound', round });
}

export function applyOuterRound(
  actor: ShardActor,
  round: number,
  outer: OuterStep,
): ShardReplies['applyOuterRound'] {
  prepare(actor, round);
  return actor.receive({ type: 'applyOuterRound', round, outer });
}
