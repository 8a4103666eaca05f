/**
 * NATS subjects of the cluster. A prefix lets several runs (or test files) share one nats-server:
 * shard i of run "ps" answers on `ps.shard.i`.
 */
export const DEFAULT_SUBJECT_PREFIX = 'ps';

/** Dot-separated tokens of letters, digits, `_` and `-`: no spaces or wildcards (`*`, `>`). */
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function shardSubject(prefix: string, index: number): string {
  if (!PREFIX.test(prefix)) {
    throw new RangeError(
      `subject prefix "${prefix}" must be dot-separated tokens of letters, digits, _ and -`,
    );
  }
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`shard index must be >= 0, got ${index}`);
  return `${prefix}.shard.${index}`;
}
