/**
 * Which refusals the worker loop recovers from by pulling fresh weights and computing again, and how
 * long it waits first when the hub says "not now". Apart from GradientWorker so that the policy (one
 * list of codes, one table of waits) reads in one place, for the gradient loop and local rounds alike.
 */
import { ErrorCode } from './errors.js';
import { HubRequestError } from './HubClient.js';

/** Refusals after which the worker simply pulls fresh weights and computes the batch again. */
export const RETRYABLE = new Set<string>([
  ErrorCode.StaleRound,
  ErrorCode.NotInRound,
  ErrorCode.DuplicateInRound,
  ErrorCode.BackupDropped,
  // A round no shard applied (a shard lost its sums): the next pull hands out the next round.
  ErrorCode.RoundAborted,
  ErrorCode.TooStale,
  // Only a coordinator restarted from its checkpoint forgets versions it served since: pull again.
  ErrorCode.FutureVersion,
  ErrorCode.Paused,
  ErrorCode.ShuttingDown,
  // The mode changed between the pull and the push (a gradient in local mode, a change in async or
  // sync): the next pull says what the mode wants now.
  ErrorCode.WrongUpdateKind,
  // A gradient far out of line (a rare honest one, or a fault): the next batch gets a new chance.
  ErrorCode.Outlier,
  // A shard process is restarting: wait a moment, then pull fresh weights (it may have gone back to
  // its last checkpoint).
  ErrorCode.ShardUnavailable,
]);

/** How long a worker waits before asking again while the operator has paused training. */
const PAUSED_RETRY_MS = 2_000;
/** How long a worker waits before asking again while a shard's process is not answering. */
const SHARD_RETRY_MS = 1_000;

/** Refusals that say "not now": the worker waits this long before it asks again. */
const WAIT_BEFORE_RETRY_MS = new Map<string, number>([
  [ErrorCode.Paused, PAUSED_RETRY_MS],
  [ErrorCode.ShardUnavailable, SHARD_RETRY_MS],
  // The hub is going down (for a restart, often): the connection drops and reconnects meanwhile.
  [ErrorCode.ShuttingDown, SHARD_RETRY_MS],
]);

/** How long to wait after this error before asking again; undefined when it is no "not now". */
export function waitBeforeRetry(error: unknown): number | undefined {
  return error instanceof HubRequestError ? WAIT_BEFORE_RETRY_MS.get(error.code) : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
