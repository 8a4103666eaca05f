import type { ShardRange } from '../../shared/layout.js';
import { gatherFromShards, type Selection } from './selection.js';

/** Selections whose gathered weights are kept: the whole model, and a few partial pulls. */
const DEFAULT_CAPACITY = 4;

/**
 * The weights a pull sends, gathered once per set of shard snapshots and shared by every pull of the
 * same selection until a shard moves on (in sync mode every worker pulls the same versions after a
 * round): no fresh copy per client. Snapshots are immutable, so identity says "same version".
 * Least recently used selections are dropped beyond `capacity`, which bounds the memory held to
 * `capacity` copies of the model.
 */
export class GatheredWeights {
  private readonly entries = new Map<string, { snapshots: readonly Float32Array[]; weights: Float32Array }>();

  constructor(
    private readonly shards: readonly ShardRange[],
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  gather(selection: Selection, snapshots: readonly Float32Array[]): Float32Array {
    const key = selection.ranges.map((r) => `${r.offset}+${r.length}`).join(',');
    const kept = this.entries.get(key);
    this.entries.delete(key);
    const weights =
      kept && kept.snapshots.every((s, i) => s === snapshots[i])
        ? kept.weights
        : gatherFromShards(selection, snapshots, this.shards);
    this.entries.set(key, { snapshots, weights });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return weights;
  }
}
