import type { AppliedPush } from '../actors/shardMessages.js';
import { CheckpointCorruptError } from './checkpointFormat.js';

/**
 * A shard's applied push ids as a checkpoint header holds them (JSON `[[pushId, version], ...]`),
 * checked: a damaged list would make the restarted shard apply a push twice or refuse a new one.
 */
export function decodeAppliedPushes(value: unknown, shard: string): AppliedPush[] {
  const valid =
    Array.isArray(value) &&
    value.every(
      (entry: unknown) =>
        Array.isArray(entry) &&
        entry.length === 2 &&
        typeof entry[0] === 'string' &&
        entry[0].length > 0 &&
        Number.isInteger(entry[1]),
    );
  if (!valid) throw new CheckpointCorruptError(`${shard}: the applied push ids are not [pushId, version] pairs`);
  return (value as [string, number][]).map(([pushId, version]) => [pushId, version]);
}
