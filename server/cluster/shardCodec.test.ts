import { describe, expect, it } from 'vitest';
import type { ShardMessage, ShardReplies } from '../actors/ShardActor.js';
import {
  decodeFrame,
  decodeShardMessage,
  decodeShardReplyFrame,
  encodeFrame,
  encodeShardError,
  encodeShardMessage,
  encodeShardReply,
  remoteError,
  ShardCodecError,
} from './shardCodec.js';

/** Floats that JSON or a careless copy would change: NaN payloads, -0, infinities, subnormals. */
function awkwardFloats(length: number, seed: number): Float32Array {
  const floats = new Float32Array(length);
  const bits = new Uint32Array(floats.buffer);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bits[i] = state >>> 0;
  }
  const specials = [0x7fc00001, 0xffc00000, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x7f7fffff];
  specials.forEach((b, i) => {
    if (i < length) bits[i] = b;
  });
  return floats;
}

/** The value with every Float32Array replaced by its bit patterns, so that equality is bit-exact. */
function bitsOf(value: unknown): unknown {
  if (value instanceof Float32Array) {
    return { f32: Array.from(new Uint32Array(value.buffer, value.byteOffset, value.length)) };
  }
  if (Array.isArray(value)) return value.map(bitsOf);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bitsOf(v)]));
  }
  if (typeof value === 'number' && (Number.isNaN(value) || Object.is(value, -0))) {
    return { num: Object.is(value, -0) ? '-0' : 'NaN' };
  }
  return value;
}

/** A frame as it arrives from a socket: at an odd offset inside a larger buffer. */
function unaligned(frame: Uint8Array): Uint8Array {
  const big = new Uint8Array(frame.byteLength + 3);
  big.set(frame, 1);
  return big.subarray(1, 1 + frame.byteLength);
}

/** A frame with this header JSON and no blobs, as a sender with a bug might make it. */
function rawFrame(header: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const frame = new Uint8Array((8 + json.byteLength + 3) & ~3);
  frame.set([0x50, 0x53, 0x46, 0x31]);
  new DataView(frame.buffer).setUint32(4, json.byteLength, true);
  frame.set(json, 8);
  return frame;
}

// Typed by message type: a new ShardMessage type fails to compile here until it has a case.
const messages: { [K in ShardMessage['type']]: Extract<ShardMessage, { type: K }> } = {
  pull: { type: 'pull' },
  apply: {
    type: 'apply',
    pushId: 'w3-push-17',
    pieces: [
      { offset: 10, values: awkwardFloats(37, 1) },
      { offset: 100, values: awkwardFloats(1, 2) },
      { offset: 200, values: new Float32Array(0) },
    ],
    lrScale: 0.25,
  },
  accumulate: {
    type: 'accumulate',
    round: 7,
    contribution: 'w3-push-18',
    pieces: [{ offset: 3, values: awkwardFloats(64, 3) }],
    weight: 64,
  },
  prepareRound: { type: 'prepareRound', round: 7, contributions: ['w3-push-18', 'w4-push-2'] },
  applyRound: { type: 'applyRound', round: 7 },
  applyOuterRound: {
    type: 'applyOuterRound',
    round: 8,
    outer: { optimizer: 'nesterov', lr: 0.7, momentum: 0.9 },
  },
  dropRound: { type: 'dropRound', round: 9 },
  status: { type: 'status' },
  checkpoint: { type: 'checkpoint' },
  setLearningRate: { type: 'setLearningRate', learningRate: 1e-3 },
  reset: { type: 'reset', weights: awkwardFloats(1001, 4) },
};

const replies: { [K in keyof ShardReplies]: ShardReplies[K] } = {
  pull: { version: 12, weights: awkwardFloats(513, 5) },
  apply: { version: 13, duplicate: true },
  accumulate: { round: 7, count: 2, duplicate: true },
  prepareRound: { round: 7, ready: false, have: 1 },
  applyRound: { version: 14, count: 2 },
  applyOuterRound: { version: 15, count: 2, changeNorm: 0.125 },
  dropRound: { round: 9, dropped: true },
  status: { index: 1, offset: 2997, length: 2997, version: 14, checksum: 'a'.repeat(40) },
  checkpoint: {
    index: 1,
    offset: 2997,
    version: 14,
    weights: awkwardFloats(2997, 6),
    optimizerState: { step: 14, slots: [awkwardFloats(2997, 7), awkwardFloats(2997, 8)] },
    outerMomentum: awkwardFloats(2997, 9),
    appliedPushes: [
      ['w1-push-1', 13],
      ['w2-push-1', 14],
    ],
  },
  setLearningRate: { learningRate: 0.5 },
  reset: { version: 15 },
};

describe('shardCodec', () => {
  it.each(Object.values(messages))('round-trips the $type message bit-exactly', (message) => {
    const frame = encodeShardMessage(message);
    expect(bitsOf(decodeShardMessage(frame))).toEqual(bitsOf(message));
    expect(bitsOf(decodeShardMessage(unaligned(frame)))).toEqual(bitsOf(message));
  });

  it.each(Object.entries(replies))('round-trips the %s reply bit-exactly', (_type, reply) => {
    const decoded = decodeShardReplyFrame(unaligned(encodeShardReply(reply)));
    expect(decoded.ok).toBe(true);
    expect(bitsOf(decoded.ok && decoded.reply)).toEqual(bitsOf(reply));
  });

  it('keeps numbers JSON cannot hold', () => {
    const value = { a: NaN, b: -0, c: Infinity, d: -Infinity, e: [1.5, -0] };
    expect(bitsOf(decodeFrame(encodeFrame(value)))).toEqual(bitsOf(value));
  });

  it('carries floats as the bytes of one frame (header + 4 bytes a float)', () => {
    const values = new Float32Array(1_100_000);
    const frame = encodeShardMessage({
      type: 'apply',
      pushId: 'p',
      pieces: [{ offset: 0, values }],
      lrScale: 1,
    });
    expect(frame.byteLength).toBeGreaterThan(values.byteLength);
    expect(frame.byteLength).toBeLessThan(values.byteLength + 200);
  });

  it('decodes to copies, never views of the frame', () => {
    const frame = encodeShardReply({ version: 1, weights: Float32Array.of(1, 2, 3) });
    const decoded = decodeShardReplyFrame(frame);
    frame.fill(0);
    expect(decoded.ok && Array.from((decoded.reply as ShardReplies['pull']).weights)).toEqual([1, 2, 3]);
  });

  it('round-trips an error as its name and message, rebuilt as the same class', () => {
    const frame = decodeShardReplyFrame(encodeShardError(new RangeError('piece [0, +9) is outside shard 1')));
    expect(frame).toEqual({
      ok: false,
      error: { name: 'RangeError', message: 'piece [0, +9) is outside shard 1' },
    });
    const error = remoteError(frame.ok ? { name: '', message: '' } : frame.error);
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('piece [0, +9) is outside shard 1');

    const custom = remoteError({ name: 'CheckpointMismatchError', message: 'saved with 3 shards' });
    expect(custom).toBeInstanceOf(Error);
    expect(custom.name).toBe('CheckpointMismatchError');
    expect(decodeShardReplyFrame(encodeShardError('plain string'))).toEqual({
      ok: false,
      error: { name: 'Error', message: 'plain string' },
    });
  });

  it('refuses what it cannot carry exactly, naming where', () => {
    expect(() =>
      encodeFrame({ type: 'apply', pieces: [{ offset: 0, values: new Float64Array(2) }] }),
    ).toThrow(/\$\.pieces\[0\]\.values is Float64Array/);
    expect(() => encodeFrame({ $f32: 0 })).toThrow(ShardCodecError);
    expect(() => encodeFrame([undefined])).toThrow(/\$\[0\] is undefined/);
    expect(() => encodeFrame(new Map())).toThrow(/Map/);
  });

  it('refuses frames that are damaged or not frames', () => {
    const frame = encodeShardMessage(messages.reset);
    expect(() => decodeFrame(new Uint8Array(4))).toThrow(/bad magic/);
    expect(() => decodeFrame(new TextEncoder().encode('{"type":"pull"}'))).toThrow(/bad magic/);
    expect(() => decodeFrame(frame.subarray(0, frame.byteLength - 4))).toThrow(/header says/);
    const badJson = Uint8Array.from(frame);
    badJson[8] = 0x7b + 1;
    expect(() => decodeFrame(badJson)).toThrow(/not JSON/);
    expect(() => decodeShardMessage(encodeFrame({ nope: 1 }))).toThrow(/not a shard message/);
    expect(() => decodeShardReplyFrame(encodeFrame({ version: 1 }))).toThrow(/not a shard reply/);
    expect(() => decodeShardReplyFrame(encodeFrame({ ok: false }))).toThrow(/without a name/);
    expect(() => decodeFrame(rawFrame({ value: { $num: 'x' }, blobs: [] }))).toThrow(/unknown number/);
    expect(() => decodeFrame(rawFrame({ value: { $f32: 1 }, blobs: [0] }))).toThrow(/outside the frame/);
    expect(() => decodeFrame(rawFrame({ value: 1 }))).toThrow(/no blob table/);
  });
});
