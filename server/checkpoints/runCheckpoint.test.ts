import { describe, expect, it } from 'vitest';
import type { CoordinatorCheckpoint } from '../actors/Coordinator.js';
import type { ShardCheckpoint } from '../actors/ShardActor.js';
import { DEFAULT_HUB_OPTIONS } from '../options.js';
import { testGradient } from '../testing/testHub.js';
import { CheckpointCorruptError, decodeCheckpoint, encodeCheckpoint } from './checkpointFormat.js';
import { decodeRunCheckpoint, encodeRunCheckpoint, type RunCheckpoint } from './runCheckpoint.js';

const LENGTH = 1001;

function shard(index: number, outerMomentum?: Float32Array): ShardCheckpoint {
  return {
    index,
    offset: index * LENGTH,
    version: 40 + index,
    weights: testGradient(LENGTH, 10 * index + 1),
    optimizerState: { step: 40 + index, slots: [testGradient(LENGTH, 10 * index + 2), testGradient(LENGTH, 10 * index + 3)] },
    ...(outerMomentum ? { outerMomentum } : {}),
  };
}

function run(shards: readonly ShardCheckpoint[]): RunCheckpoint {
  return {
    savedAt: 1_700_000_100_000,
    startedAt: 1_700_000_000_000,
    config: { ...DEFAULT_HUB_OPTIONS, mode: 'local' },
    shards,
    // The codec carries the coordinator's part as JSON without looking into it.
    coordinator: {
      globalStep: 41,
      examplesSeen: 41 * 64,
      pushesAccepted: 41,
      trainLoss: 0.25,
      nextRoundId: 9,
      shardVersions: [40, 41],
      refusals: {},
      staleness: [0, 1],
    } as CoordinatorCheckpoint,
    units: { completed: 3, nextEpoch: 1, pending: [], randomState: 12345 },
    evaluation: null,
    history: [],
  };
}

/** Through the bytes of a checkpoint file and back. */
function throughFile(value: RunCheckpoint): RunCheckpoint {
  return decodeRunCheckpoint(decodeCheckpoint(encodeCheckpoint(encodeRunCheckpoint(value))));
}

describe('run checkpoints', () => {
  it('round-trip every shard’s outer momentum (local mode), as blob shard<i>/outer', () => {
    const saved = run([shard(0, testGradient(LENGTH, 4)), shard(1, testGradient(LENGTH, 14))]);
    const encoded = encodeRunCheckpoint(saved);
    expect(encoded.header.shards.map((s) => s.outer)).toEqual([true, true]);
    expect(encoded.blobs.has('shard1/outer')).toBe(true);
    const decoded = throughFile(saved);
    expect(decoded).toEqual(saved);
    expect(Array.from(decoded.shards[1].outerMomentum!)).toEqual(Array.from(saved.shards[1].outerMomentum!));
  });

  it('round-trip shards without outer momentum: no blob, no flag, none after decoding', () => {
    const saved = run([shard(0), shard(1, testGradient(LENGTH, 14))]);
    const encoded = encodeRunCheckpoint(saved);
    expect(encoded.header.shards[0]).not.toHaveProperty('outer');
    expect(encoded.blobs.has('shard0/outer')).toBe(false);
    const decoded = throughFile(saved);
    expect(decoded).toEqual(saved);
    expect(decoded.shards[0]).not.toHaveProperty('outerMomentum');
  });

  it('a file from before local mode (no flag, no blob) still loads, without outer momentum', () => {
    const encoded = encodeRunCheckpoint(run([shard(0), shard(1)]));
    // Exactly the header and blobs such a file has: the flag is the only new field.
    expect(encoded.header.shards.every((s) => !('outer' in s))).toBe(true);
    expect([...encoded.blobs.keys()].some((name) => name.endsWith('/outer'))).toBe(false);
    const decoded = decodeRunCheckpoint(decodeCheckpoint(encodeCheckpoint(encoded)));
    expect(decoded.shards.map((s) => s.outerMomentum)).toEqual([undefined, undefined]);
  });

  it('refuse a flagged outer momentum whose blob is missing or mis-sized as corrupt', () => {
    const encoded = encodeRunCheckpoint(run([shard(0, testGradient(LENGTH, 4))]));
    const missing = new Map(encoded.blobs);
    missing.delete('shard0/outer');
    expect(() => decodeRunCheckpoint({ header: encoded.header, blobs: missing })).toThrow(CheckpointCorruptError);
    const short = new Map(encoded.blobs);
    short.set('shard0/outer', new Uint8Array(8));
    expect(() => decodeRunCheckpoint({ header: encoded.header, blobs: short })).toThrow(
      /shard0\/outer is missing or mis-sized/,
    );
  });

  it("round-trip each shard's applied push ids in the header; a file from before them loads with none", () => {
    const withIds: ShardCheckpoint = {
      ...shard(0),
      appliedPushes: [
        ['w1-a', 39],
        ['w2-b', 40],
      ],
    };
    const saved = run([withIds, shard(1)]);
    const encoded = encodeRunCheckpoint(saved);
    expect(encoded.header.shards.map((s) => s.applied)).toEqual([withIds.appliedPushes, undefined]);
    expect(encoded.header.shards[1]).not.toHaveProperty('applied');
    const decoded = throughFile(saved);
    expect(decoded).toEqual(saved);
    expect(decoded.shards[1]).not.toHaveProperty('appliedPushes');
    const damaged = { ...encoded.header, shards: [{ ...encoded.header.shards[0], applied: [['w1-a', 'x']] }] };
    expect(() =>
      decodeRunCheckpoint({ header: damaged as unknown as typeof encoded.header, blobs: encoded.blobs }),
    ).toThrow(/shard 0: the applied push ids are not \[pushId, version\] pairs/);
  });
});
