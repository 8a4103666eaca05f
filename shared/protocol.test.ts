import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  completeUnitSchema,
  helloSchema,
  leaseSchema,
  PROTOCOL_VERSION,
  pullSchema,
  pushSchema,
} from './protocol.js';

function accepts(schema: z.ZodType, value: unknown): boolean {
  return schema.safeParse(value).success;
}

/** A case name and the message it is made from. */
type Case = readonly [string, unknown];

function expectAll(schema: z.ZodType, cases: readonly Case[], accepted: boolean): void {
  const wrong = cases.filter(([, value]) => accepts(schema, value) !== accepted).map(([name]) => name);
  expect(wrong, accepted ? 'refused but valid' : 'accepted but invalid').toEqual([]);
}

const long = (n: number) => 'x'.repeat(n);

describe('helloSchema', () => {
  const valid = { protocolVersion: PROTOCOL_VERSION, backend: 'wasm', device: 'SwiftShader' };

  it('accepts a valid hello, with or without device', () => {
    expectAll(
      helloSchema,
      [
        ['full', valid],
        ['no device', { protocolVersion: PROTOCOL_VERSION, backend: 'webgpu' }],
        // Another version is a valid message: the gateway refuses it with PROTOCOL_MISMATCH, not INVALID.
        ['other version', { ...valid, protocolVersion: 99 }],
        ['longest backend', { ...valid, backend: long(32) }],
        ['longest device', { ...valid, device: long(200) }],
      ],
      true,
    );
    expect(helloSchema.parse(valid)).toEqual(valid);
  });

  it('refuses wrong types, missing fields, extras and oversized strings', () => {
    const { protocolVersion: _v, ...noVersion } = valid;
    const { backend: _b, ...noBackend } = valid;
    expectAll(
      helloSchema,
      [
        ['not an object', 'hello'],
        ['null', null],
        ['array', [valid]],
        ['version as string', { ...valid, protocolVersion: '1' }],
        ['fractional version', { ...valid, protocolVersion: 1.5 }],
        ['backend number', { ...valid, backend: 1 }],
        ['device number', { ...valid, device: 7 }],
        ['missing version', noVersion],
        ['missing backend', noBackend],
        ['extra field', { ...valid, admin: true }],
        ['empty backend', { ...valid, backend: '' }],
        ['backend too long', { ...valid, backend: long(33) }],
        ['device too long', { ...valid, device: long(201) }],
      ],
      false,
    );
  });
});

describe('pullSchema', () => {
  it('accepts everything, shards or keys', () => {
    expectAll(
      pullSchema,
      [
        ['everything', {}],
        ['shards', { shards: [0, 2] }],
        ['keys', { keys: ['conv1/kernel', 'conv1/bias'] }],
        ['1024 shards', { shards: Array.from({ length: 1024 }, (_, i) => i) }],
        ['key of 200 chars', { keys: [long(200)] }],
      ],
      true,
    );
  });

  it('refuses wrong types, bad counts, extras and oversized arrays', () => {
    expectAll(
      pullSchema,
      [
        ['null', null],
        ['shards not an array', { shards: 0 }],
        ['shard as string', { shards: ['0'] }],
        ['negative shard', { shards: [-1] }],
        ['fractional shard', { shards: [0.5] }],
        ['empty shards', { shards: [] }],
        ['1025 shards', { shards: Array.from({ length: 1025 }, (_, i) => i) }],
        ['keys not an array', { keys: 'conv1/kernel' }],
        ['key number', { keys: [1] }],
        ['empty key', { keys: [''] }],
        ['empty keys', { keys: [] }],
        ['key too long', { keys: [long(201)] }],
        ['1025 keys', { keys: Array.from({ length: 1025 }, (_, i) => `k${i}`) }],
        ['extra field', { shards: [0], round: 1 }],
      ],
      false,
    );
  });
});

describe('pushSchema', () => {
  const gradient = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
  const valid = {
    pushId: 'w1-17',
    versions: [3, 4],
    round: 2,
    examples: 64,
    loss: 2.3,
    gradient,
  };

  it('accepts a valid push, with each binary form socket.io may deliver', () => {
    const { round: _r, ...noRound } = valid;
    expectAll(
      pushSchema,
      [
        ['Uint8Array', valid],
        ['ArrayBuffer', { ...valid, gradient: new ArrayBuffer(12) }],
        ['Node Buffer at an odd offset', { ...valid, gradient: Buffer.alloc(13).subarray(1) }],
        ['no round (async)', noRound],
        ['shards', { ...valid, shards: [1] }],
        ['keys', { ...valid, keys: ['logits/bias'] }],
        ['no versions', { ...valid, versions: [] }],
        ['most examples', { ...valid, examples: 1_000_000 }],
        ['pushId of 64', { ...valid, pushId: long(64) }],
        ['negative loss', { ...valid, loss: -1 }],
      ],
      true,
    );
    expect(pushSchema.parse(valid).gradient).toBe(gradient);
  });

  it('refuses non-binary gradients', () => {
    expectAll(
      pushSchema,
      [
        ['JSON number array', { ...valid, gradient: [1, 2, 3] }],
        ['string', { ...valid, gradient: 'AAAAAA==' }],
        ['object', { ...valid, gradient: { 0: 1, length: 1 } }],
        ['null', { ...valid, gradient: null }],
        ['missing', { ...valid, gradient: undefined }],
      ],
      false,
    );
  });

  it('refuses wrong types, missing fields, bad counts, extras and oversized values', () => {
    const without = (key: keyof typeof valid) => {
      const copy: Record<string, unknown> = { ...valid };
      delete copy[key];
      return copy;
    };
    expectAll(
      pushSchema,
      [
        ['missing pushId', without('pushId')],
        ['missing versions', without('versions')],
        ['missing examples', without('examples')],
        ['missing loss', without('loss')],
        ['missing gradient', without('gradient')],
        ['pushId number', { ...valid, pushId: 17 }],
        ['empty pushId', { ...valid, pushId: '' }],
        ['pushId too long', { ...valid, pushId: long(65) }],
        ['versions not an array', { ...valid, versions: 3 }],
        ['negative version', { ...valid, versions: [3, -1] }],
        ['fractional version', { ...valid, versions: [3.5] }],
        ['1025 versions', { ...valid, versions: new Array(1025).fill(0) }],
        ['negative round', { ...valid, round: -1 }],
        ['fractional round', { ...valid, round: 1.5 }],
        ['round as string', { ...valid, round: '2' }],
        ['zero examples', { ...valid, examples: 0 }],
        ['negative examples', { ...valid, examples: -64 }],
        ['fractional examples', { ...valid, examples: 6.4 }],
        ['too many examples', { ...valid, examples: 1_000_001 }],
        ['loss as string', { ...valid, loss: '2.3' }],
        ['NaN loss', { ...valid, loss: NaN }],
        ['infinite loss', { ...valid, loss: Infinity }],
        ['negative shard', { ...valid, shards: [-1] }],
        ['1025 keys', { ...valid, keys: Array.from({ length: 1025 }, (_, i) => `k${i}`) }],
        ['extra field', { ...valid, lr: 10 }],
      ],
      false,
    );
  });
});

describe('leaseSchema', () => {
  it('accepts an empty object', () => {
    expect(accepts(leaseSchema, {})).toBe(true);
  });

  it('refuses anything else', () => {
    expectAll(
      leaseSchema,
      [
        ['extra field', { count: 2 }],
        ['null', null],
        ['number', 1],
        ['string', ''],
      ],
      false,
    );
  });
});

describe('completeUnitSchema', () => {
  it('accepts a unit id', () => {
    expectAll(
      completeUnitSchema,
      [
        ['zero', { unitId: 0 }],
        ['large', { unitId: 123_456 }],
      ],
      true,
    );
  });

  it('refuses wrong types, missing id, bad counts and extras', () => {
    expectAll(
      completeUnitSchema,
      [
        ['missing', {}],
        ['string id', { unitId: '3' }],
        ['negative id', { unitId: -1 }],
        ['fractional id', { unitId: 2.5 }],
        ['NaN id', { unitId: NaN }],
        ['extra field', { unitId: 1, epoch: 0 }],
        ['null', null],
      ],
      false,
    );
  });
});
