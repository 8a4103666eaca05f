/**
 * Every refusal the hub sends carries one of these codes. Clients branch on the code; the message is
 * for people and never contains internal details.
 */
export const ErrorCode = {
  /** `hello` carried another PROTOCOL_VERSION; the message says which side is older. */
  ProtocolMismatch: 'PROTOCOL_MISMATCH',
  /** A pull/push/lease before a successful `hello`. */
  NotRegistered: 'NOT_REGISTERED',
  /** The payload does not match the event's schema (wrong types, missing fields, not binary). */
  InvalidMessage: 'INVALID_MESSAGE',
  /** An event name the hub does not know. */
  UnknownEvent: 'UNKNOWN_EVENT',
  /** Binary payload whose byte length does not match the shards or keys it names. */
  BadLength: 'BAD_LENGTH',
  /** A gradient containing NaN or Infinity. */
  NonFinite: 'NON_FINITE',
  /** A shard index outside 0..shards-1, or repeated. */
  UnknownShard: 'UNKNOWN_SHARD',
  /** A parameter key (tensor name) that is not in the layout, or repeated. */
  UnknownKey: 'UNKNOWN_KEY',
  /** Sync mode: a gradient for a round that is no longer open. */
  StaleRound: 'STALE_ROUND',
  /** Sync mode: a second gradient from the same worker in one round. */
  DuplicateInRound: 'DUPLICATE_IN_ROUND',
  /** Sync mode: the worker joined after the round opened; it takes part from the next round. */
  NotInRound: 'NOT_IN_ROUND',
  /** Sync mode: the round already averaged its `--replicas-to-aggregate` gradients; this backup was dropped. */
  BackupDropped: 'BACKUP_DROPPED',
  /**
   * Sync and local mode: the round closed on no shard, because some shard did not hold every push
   * the round accepted (its process restarted mid-round, or an accumulate failed on it): nothing of
   * the round was applied anywhere. The worker pulls again and pushes for the next round.
   */
  RoundAborted: 'ROUND_ABORTED',
  /** Async mode: the gradient was computed from weights more than `--max-staleness` updates old. */
  TooStale: 'TOO_STALE',
  /**
   * A gradient pushed in local mode, or a weight change (`localSteps`) in async or sync mode: it was
   * made for the mode before an admin switch. The worker pulls again and hears the current mode's work.
   */
  WrongUpdateKind: 'WRONG_UPDATE_KIND',
  /**
   * A push claims weights of a version the hub never served (a version from the future): the claim
   * would dodge `--max-staleness` and the reset check. Pull, and push what was computed from that.
   */
  FutureVersion: 'FUTURE_VERSION',
  /**
   * A push claims more examples than the hub asked for (its batch size, times the inner steps in
   * local mode), or more inner steps than the round's plan: examples weigh a round's mean and credit.
   */
  TooManyExamples: 'TOO_MANY_EXAMPLES',
  /** Sync mode averages whole gradients: a push must cover every shard. */
  SyncNeedsFullGradient: 'SYNC_NEEDS_FULL_GRADIENT',
  /** A work unit id that is not leased to this worker. */
  UnknownUnit: 'UNKNOWN_UNIT',
  /** `--trust`: this gradient's norm was far above the recent accepted ones: refused, and it cost trust. */
  Outlier: 'OUTLIER',
  /** The worker's recent gradients were far out of line with everyone else's: refused. */
  Untrusted: 'UNTRUSTED',
  /** The operator paused training: pull again a little later. */
  Paused: 'PAUSED',
  /** "Checkpoint now" on a hub that runs without checkpoints. */
  NoCheckpoints: 'NO_CHECKPOINTS',
  /** An action that changes the run, sent without the admin token. */
  AdminRequired: 'ADMIN_REQUIRED',
  /** The connection sent more messages or bytes per second than its budget. */
  RateLimited: 'RATE_LIMITED',
  /** Too many refused messages from one connection: it is disconnected. */
  TooManyStrikes: 'TOO_MANY_STRIKES',
  /** A frame that is not a socket.io packet at all: the connection is closed. */
  MalformedFrame: 'MALFORMED_FRAME',
  /** Connections from this address were closed for strikes again and again: new ones wait a while. */
  Banned: 'BANNED',
  /**
   * A shard of the weights did not answer (its process is restarting, or its machine is unreachable):
   * nothing was changed on that shard. Workers wait a moment and pull again.
   */
  ShardUnavailable: 'SHARD_UNAVAILABLE',
  /**
   * The hub is shutting down: it takes no more pushes, so that its last checkpoint holds every one it
   * acknowledged. Nothing of this push was applied; the worker sends it again once the hub is back.
   */
  ShuttingDown: 'SHUTTING_DOWN',
  /**
   * The hub asks every volunteer's backend for one known answer before its work counts: a push
   * before the check passed is refused. The worker asks `check:get`, answers `check:answer`.
   */
  NotVerified: 'NOT_VERIFIED',
  /**
   * The known-answer check: the worker's gradient on the hub's weights and examples did not match
   * the hub's own (direction or length). A browser tries its next backend; a Node worker stops.
   */
  KnownAnswerFailed: 'KNOWN_ANSWER_FAILED',
  /** A `check:answer` for no check this connection was given (or one answered already). */
  UnknownCheck: 'UNKNOWN_CHECK',
  /** An unexpected failure inside the hub; details are in the hub's log, not in the reply. */
  Internal: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface HubErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
}

/** An error with a code from the table, safe to send to a client as it is. */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HubError';
  }

  toBody(): HubErrorBody {
    return { code: this.code, message: this.message };
  }
}
