import { ErrorCode } from '../../shared/errors.js';

/**
 * Who a refusal points at: `rule` is the training rules at work (expected under load: a slow worker's
 * gradient is too old, a backup's is not needed); `client` is a broken, hostile or outdated client;
 * `hub` is a bug in the hub.
 */
export type RefusalKind = 'rule' | 'client' | 'hub';

export interface RefusalReason {
  /** One line, for people: what the hub refused and why. */
  readonly meaning: string;
  readonly kind: RefusalKind;
}

// Keyed by every code in the table: a code added to shared/errors.ts fails the type check here until
// it has a meaning.
const REASONS: Record<ErrorCode, RefusalReason> = {
  [ErrorCode.TooStale]: { meaning: 'async: gradient older than --max-staleness updates', kind: 'rule' },
  [ErrorCode.BackupDropped]: {
    meaning: 'sync, local: the round already had its K pushes (--replicas-to-aggregate)',
    kind: 'rule',
  },
  [ErrorCode.StaleRound]: {
    meaning: 'sync, local: a push for a round that has already closed (or from before a reset)',
    kind: 'rule',
  },
  // Not the worker's fault: a shard lost the round's sums (a restart); the round is redone.
  [ErrorCode.RoundAborted]: {
    meaning: 'sync, local: a round that some shard could not apply whole, so no shard applied it',
    kind: 'rule',
  },
  [ErrorCode.NotInRound]: {
    meaning: 'sync, local: the worker joined after the round opened; it takes the next one',
    kind: 'rule',
  },
  [ErrorCode.DuplicateInRound]: {
    meaning: 'sync, local: a second push from one worker in a round',
    kind: 'client',
  },
  [ErrorCode.SyncNeedsFullGradient]: {
    meaning: 'sync: a push that does not cover every shard',
    kind: 'client',
  },
  // Pushed for the mode before an admin switch (a gradient in local mode, a change in the others).
  [ErrorCode.WrongUpdateKind]: {
    meaning: 'a gradient in local mode, or a weight change in async or sync mode (sent before a mode switch)',
    kind: 'rule',
  },
  [ErrorCode.FutureVersion]: {
    meaning: 'a push claiming weights of a version the hub never served',
    kind: 'client',
  },
  [ErrorCode.TooManyExamples]: {
    meaning: 'a push claiming more examples (or inner steps) than the hub asked for',
    kind: 'client',
  },
  [ErrorCode.NotVerified]: {
    meaning: "a push before the worker's backend passed the hub's known-answer check (not applied)",
    kind: 'rule',
  },
  [ErrorCode.KnownAnswerFailed]: {
    meaning: "a backend's gradient on the hub's known answer was wrong (a browser tries its next backend)",
    kind: 'client',
  },
  [ErrorCode.UnknownCheck]: {
    meaning: 'an answer to a known-answer check the hub never gave (or one already answered)',
    kind: 'client',
  },
  [ErrorCode.ShuttingDown]: {
    meaning:
      'a push that arrived while the hub was shutting down (not applied; sent again after the restart)',
    kind: 'rule',
  },
  [ErrorCode.NonFinite]: { meaning: 'gradient or weight change contains NaN or Infinity', kind: 'client' },
  [ErrorCode.BadLength]: { meaning: 'byte length does not match the shards or keys named', kind: 'client' },
  [ErrorCode.UnknownShard]: { meaning: 'shard index out of range, or repeated', kind: 'client' },
  [ErrorCode.UnknownKey]: { meaning: 'tensor name not in the model, or repeated', kind: 'client' },
  [ErrorCode.InvalidMessage]: { meaning: 'payload does not match the message schema', kind: 'client' },
  [ErrorCode.UnknownEvent]: { meaning: 'an event name the hub does not know', kind: 'client' },
  [ErrorCode.NotRegistered]: { meaning: 'a request before a successful hello', kind: 'client' },
  [ErrorCode.ProtocolMismatch]: {
    meaning: 'client and hub speak different protocol versions',
    kind: 'client',
  },
  [ErrorCode.UnknownUnit]: { meaning: 'a work unit not leased to this worker', kind: 'client' },
  [ErrorCode.Paused]: { meaning: 'the operator paused training; workers ask again shortly', kind: 'rule' },
  [ErrorCode.Outlier]: {
    meaning: '--trust: a gradient norm far above the recent accepted ones (or above --clip-norm early on)',
    kind: 'client',
  },
  [ErrorCode.Untrusted]: {
    meaning: "--trust: the worker's recent gradients were far out of line with everyone else's",
    kind: 'client',
  },
  [ErrorCode.NoCheckpoints]: {
    meaning: '"checkpoint now" on a hub that runs without checkpoints',
    kind: 'rule',
  },
  [ErrorCode.AdminRequired]: { meaning: 'an admin action without the admin token', kind: 'client' },
  [ErrorCode.RateLimited]: {
    meaning: 'more messages or bytes per second than a connection may send',
    kind: 'client',
  },
  [ErrorCode.TooManyStrikes]: {
    meaning: 'so many refused messages that the connection was closed',
    kind: 'client',
  },
  [ErrorCode.MalformedFrame]: {
    meaning: 'a frame that was not a socket.io packet; the connection was closed',
    kind: 'client',
  },
  [ErrorCode.Banned]: {
    meaning: '--ban-after: a connection refused because its address kept being closed for strikes',
    kind: 'client',
  },
  // Not a bug and not the worker's fault: the run goes on once the shard's process is back.
  [ErrorCode.ShardUnavailable]: {
    meaning: 'a shard process did not answer (restarting?); workers pull again shortly',
    kind: 'rule',
  },
  [ErrorCode.Internal]: { meaning: 'an unexpected failure in the hub (see its log)', kind: 'hub' },
};

/** The meaning of a code; a code this page does not know (a newer hub) is still listed, as such. */
export function refusalReason(code: string): RefusalReason {
  return Object.hasOwn(REASONS, code)
    ? REASONS[code as ErrorCode]
    : { meaning: 'a code this page does not know (a newer hub?)', kind: 'client' };
}
