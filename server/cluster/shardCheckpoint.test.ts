import { describe, expect, it } from 'vitest';
import {
  CheckpointCorruptError,
  decodeCheckpoint,
  encodeCheckpoint,
} from '../checkpoints/checkpointFormat.js';
import { testGradient } from '../testing/testHub.js';
import {
  checkShardCompatible,
  decodeShardCheckpoint,
  encodeShardCheckpoint,
  type SavedShard,
} from './shardCheckpoint.js';

const saved: SavedShard = {
  savedAt: 1_700_000_000_000,
  model: 'cnn',
  shards: 2,
  optimizer: 'adam',
  learningRate: 0.005,
  shard: {
    index: 1,
    offset: 2997,
    version: 42,
    weights: testGradient(2997, 1),
    optimizerState: { step: 42, slots: [testGradient(2997, 2), testGradient(2997, 3)] },
  },
};

/** Through the bytes of a checkpoint file and back. */
function throughFile(value: SavedShard): SavedShard {
  return decodeShardCheckpoint(decodeCheckpoint(encodeCheckpoint(encodeShardCheckpoint(value))));
}

describe('shard checkpoints', () => {
  it('round-trip through the checkpoint file format', () => {
    expect(throughFile(saved)).toEqual(saved);
  });

  it('round-trip local mode’s outer momentum, as blob shard<i>/outer with a header flag', () => {
    const withMomentum: SavedShard = {
      ...saved,
      shard: { ...saved.shard, outerMomentum: testGradient(2997, 4) },
    };
    const encoded = encodeShardCheckpoint(withMomentum);
    expect(encoded.header.outer).toBe(true);
    expect(encoded.blobs.has('shard1/outer')).toBe(true);
    expect(throughFile(withMomentum)).toEqual(withMomentum);
    const missing = new Map(encoded.blobs);
    missing.delete('shard1/outer');
    expect(() => decodeShardCheckpoint({ header: encoded.header, blobs: missing })).toThrow(
      /shard1\/outer is missing or mis-sized/,
    );
  });

  it('without outer momentum: no flag, no blob, and a file from before local mode loads without one', () => {
    const encoded = encodeShardCheckpoint(saved);
    expect(encoded.header).not.toHaveProperty('outer');
    expect([...encoded.blobs.keys()]).toEqual(['shard1/weights', 'shard1/slot0', 'shard1/slot1']);
    expect(throughFile(saved).shard).not.toHaveProperty('outerMomentum');
  });

  it('refuse a file that is not a shard checkpoint as corrupt, so that loading skips it', () => {
    const encoded = encodeShardCheckpoint(saved);
    expect(() => decodeShardCheckpoint({ header: { format: 1, shards: [] }, blobs: encoded.blobs })).toThrow(
      CheckpointCorruptError,
    );
    expect(() =>
      decodeShardCheckpoint({ header: { ...encoded.header, format: 2 }, blobs: encoded.blobs }),
    ).toThrow(/shard format 2/);
    const blobs = new Map(encoded.blobs);
    blobs.set('shard1/slot1', new Uint8Array(8));
    expect(() => decodeShardCheckpoint({ header: encoded.header, blobs })).toThrow(
      /shard1\/slot1 is missing or mis-sized/,
    );
  });

  it('carry on only the same shard of the same split, model and optimizer', () => {
    const same = {
      model: 'cnn',
      shards: 2,
      optimizer: 'adam',
      index: 1,
      offset: 2997,
      length: 2997,
    } as const;
    expect(() => checkShardCompatible(saved, same, 'f.ckpt')).not.toThrow();
    expect(() => checkShardCompatible(saved, { ...same, optimizer: 'sgd', model: 'mlp' }, 'f.ckpt')).toThrow(
      'shard checkpoint f.ckpt was saved with model cnn (asked: mlp), optimizer adam (asked: sgd).',
    );
  });

  it('round-trip the applied push ids (header `applied`); a file from before them loads with none', () => {
    const withIds: SavedShard = {
      ...saved,
      shard: {
        ...saved.shard,
        appliedPushes: [
          ['w1-p1', 41],
          ['w3-p9', 42],
        ],
      },
    };
    const encoded = encodeShardCheckpoint(withIds);
    expect(encoded.header.applied).toEqual(withIds.shard.appliedPushes);
    expect(throughFile(withIds)).toEqual(withIds);
    expect(encodeShardCheckpoint(saved).header).not.toHaveProperty('applied');
    expect(throughFile(saved).shard).not.toHaveProperty('appliedPushes');
    for (const applied of [{}, [['w1-p1']], [['', 3]], [[7, 3]]]) {
      expect(() =>
        decodeShardCheckpoint({ header: { ...encoded.header, applied }, blobs: encoded.blobs }),
      ).toThrow(/shard 1: the applied push ids are not \[pushId, version\] pairs/);
    }
  });
});
