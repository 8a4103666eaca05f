/**
 * The hub's shard refs: in-process shard actors built from the initial weights (or a checkpoint), or
 * the remote ones a coordinator was given, checked against this hub's split of the model. Apart from
 * createHub because it is the one place that decides where the weights live.
 */
import type { ShardRange } from '../shared/layout.js';
import { ShardActor } from './actors/ShardActor.js';
import { LocalShardRef, type ShardRef } from './actors/ShardRef.js';
import type { RunCheckpoint } from './checkpoints/runCheckpoint.js';
import { createUpdateRule } from './optimizers/updateRules.js';
import type { HubOptions } from './options.js';

/** Remote shards when given (checked), else one in-process actor per range. */
export async function hubShards({
  ranges,
  options,
  initial,
  resume,
  remoteShards,
}: {
  ranges: readonly ShardRange[];
  options: HubOptions;
  /** The model's initial flat weights; a resumed shard starts from its checkpoint instead. */
  initial: Float32Array;
  resume?: RunCheckpoint;
  remoteShards?: readonly ShardRef[];
}): Promise<readonly ShardRef[]> {
  if (remoteShards) {
    await checkRemoteShards(remoteShards, ranges, options);
    return remoteShards;
  }
  const rule = createUpdateRule(options.optimizer);
  return ranges.map((range) => {
    const saved = resume?.shards[range.index];
    return new LocalShardRef(
      new ShardActor({
        index: range.index,
        offset: range.offset,
        initialWeights: saved?.weights ?? initial.subarray(range.offset, range.offset + range.length),
        rule,
        learningRate: options.learningRate,
        aggregation: options.aggregate,
        syncLrScaling: options.syncLrScaling,
        restore: saved,
      }),
    );
  });
}

/**
 * Remote shards must split the model as this hub does: one process per range, each answering for
 * exactly its floats. A shard process started with another --model or --shards is refused here, with
 * both splits named, before any worker can push.
 */
async function checkRemoteShards(
  refs: readonly ShardRef[],
  ranges: readonly ShardRange[],
  options: HubOptions,
): Promise<void> {
  if (refs.length !== ranges.length) {
    throw new Error(`${refs.length} remote shard(s) given for --shards ${ranges.length}`);
  }
  const statuses = await Promise.all(refs.map((ref) => ref.ask({ type: 'status' })));
  const wrong = statuses.filter(
    (s, i) => s.index !== i || s.offset !== ranges[i].offset || s.length !== ranges[i].length,
  );
  if (wrong.length > 0) {
    const s = wrong[0];
    const expected = ranges[s.index] ?? ranges[0];
    throw new Error(
      `shard ${s.index} holds floats [${s.offset}, +${s.length}), but --model ${options.model} --shards ` +
        `${options.shards} puts shard ${expected.index} at [${expected.offset}, +${expected.length}): start ` +
        `every shard process and the coordinator with the same --model and --shards`,
    );
  }
}
