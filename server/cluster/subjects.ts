/**
 * NATS subjects of the cluster. A prefix lets several runs (or test files) share one nats-server:
 * shard i of run "ps" answers on `ps.shard.i`, its coordinator on `ps.coord.call.<method>`.
 */
export const DEFAULT_SUBJECT_PREFIX = 'ps';

/** Dot-separated tokens of letters, digits, `_` and `-`: no spaces or wildcards (`*`, `>`). */
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function checkedPrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw new RangeError(
      `subject prefix "${prefix}" must be dot-separated tokens of letters, digits, _ and -`,
    );
  }
  return prefix;
}

export function shardSubject(prefix: string, index: number): string {
  checkedPrefix(prefix);
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`shard index must be >= 0, got ${index}`);
  return `${prefix}.shard.${index}`;
}

/** Requests to the coordinator process: `<prefix>.coord.call.<method>` (`*`: all of them). */
export function coordinatorSubject(prefix: string, method: string): string {
  return `${checkedPrefix(prefix)}.coord.call.${method}`;
}

/** What the coordinator broadcasts to every gateway a few times a second (mode, pause, global step). */
export function coordinatorStateSubject(prefix: string): string {
  return `${checkedPrefix(prefix)}.coord.state`;
}

/** What the coordinator's dashboard sends every viewer, relayed by each gateway to its own viewers. */
export function dashboardSubject(prefix: string): string {
  return `${checkedPrefix(prefix)}.dashboard.broadcast`;
}

/** A gateway's viewer connected: the coordinator answers with the whole dashboard history. */
export function dashboardHistorySubject(prefix: string): string {
  return `${checkedPrefix(prefix)}.dashboard.history`;
}
