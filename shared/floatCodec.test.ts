import { describe, expect, it } from 'vitest';
import { bytesToFloats, firstNonFinite, floatsToBytes, isBinary } from './floatCodec.js';

const VALUES = [1.5, -2.25, 3e-5, 1e30, -0, 42];

function littleEndianBytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

describe('isBinary', () => {
  it('accepts ArrayBuffer, Uint8Array and Node Buffer; refuses the rest', () => {
    expect(isBinary(new ArrayBuffer(4))).toBe(true);
    expect(isBinary(new Uint8Array(4))).toBe(true);
    expect(isBinary(Buffer.alloc(4))).toBe(true);
    expect(isBinary([1, 2, 3])).toBe(false);
    expect(isBinary('abcd')).toBe(false);
    expect(isBinary(null)).toBe(false);
    expect(isBinary({ byteLength: 4 })).toBe(false);
  });
});

describe('bytesToFloats', () => {
  it('decodes an ArrayBuffer', () => {
    const floats = bytesToFloats(littleEndianBytes(VALUES).buffer as ArrayBuffer);
    expect(Array.from(floats)).toEqual(VALUES.map((v) => Math.fround(v)));
    expect(Object.is(floats[4], -0)).toBe(true);
  });

  it('decodes an aligned Uint8Array view in the middle of a larger buffer without copying', () => {
    const backing = new Uint8Array(8 + VALUES.length * 4 + 8);
    backing.set(littleEndianBytes(VALUES), 8);
    const view = backing.subarray(8, 8 + VALUES.length * 4);
    const floats = bytesToFloats(view);
    expect(Array.from(floats)).toEqual(VALUES.map((v) => Math.fround(v)));
    expect(floats.buffer).toBe(backing.buffer);
    expect(floats.byteOffset).toBe(8);
  });

  it('copies an unaligned Node Buffer view correctly (offset 1, 2 and 3 of a pooled buffer)', () => {
    for (const shift of [1, 2, 3]) {
      const encoded = littleEndianBytes(VALUES);
      const pooled = Buffer.alloc(shift + encoded.length + 5, 0xab);
      pooled.set(encoded, shift);
      const view = pooled.subarray(shift, shift + encoded.length);
      expect(view.byteOffset % 4).not.toBe(0);
      const floats = bytesToFloats(view);
      expect(Array.from(floats)).toEqual(VALUES.map((v) => Math.fround(v)));
      // A copy: changing the socket's buffer afterwards must not change the decoded floats.
      expect(floats.buffer).not.toBe(pooled.buffer);
      pooled.fill(0);
      expect(Array.from(floats)).toEqual(VALUES.map((v) => Math.fround(v)));
    }
  });

  it('decodes a Buffer.from(...) subarray at offset 1 (Node pools small Buffers)', () => {
    const encoded = littleEndianBytes(VALUES);
    const buffer = Buffer.from([0, ...encoded]).subarray(1);
    expect(Array.from(bytesToFloats(buffer))).toEqual(VALUES.map((v) => Math.fround(v)));
  });

  it('decodes empty input to an empty array', () => {
    expect(bytesToFloats(new ArrayBuffer(0))).toHaveLength(0);
    expect(bytesToFloats(Buffer.alloc(3).subarray(1, 1))).toHaveLength(0);
  });

  it.each([1, 2, 3, 5, 7, 4097])('refuses %d bytes with RangeError', (n) => {
    expect(() => bytesToFloats(new ArrayBuffer(n))).toThrow(RangeError);
    expect(() => bytesToFloats(new Uint8Array(n))).toThrow(RangeError);
    expect(() => bytesToFloats(Buffer.alloc(n + 1).subarray(1))).toThrow(RangeError);
  });
});

describe('floatsToBytes', () => {
  it('is a view of the floats (no copy), little-endian', () => {
    const floats = new Float32Array([1, -2]);
    const bytes = floatsToBytes(floats);
    expect(bytes.buffer).toBe(floats.buffer);
    expect(Array.from(bytes)).toEqual(Array.from(littleEndianBytes([1, -2])));
  });

  it('respects the offset of a subarray', () => {
    const all = new Float32Array([9, 8, 7, 6]);
    const bytes = floatsToBytes(all.subarray(1, 3));
    expect(bytes.byteOffset).toBe(4);
    expect(bytes.byteLength).toBe(8);
    expect(Array.from(bytesToFloats(bytes))).toEqual([8, 7]);
  });

  it('round-trips through an unaligned copy, bit for bit (NaN payloads, -0, denormals)', () => {
    const floats = new Float32Array(257);
    const bits = new Uint32Array(floats.buffer);
    let x = 12345;
    for (let i = 0; i < bits.length; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      bits[i] = x;
    }
    bits[0] = 0x80000000; // -0
    bits[1] = 0x00000001; // smallest denormal
    bits[2] = 0x7fc00001; // a NaN with a payload
    const bytes = floatsToBytes(floats);
    const unaligned = Buffer.alloc(bytes.length + 1);
    unaligned.set(bytes, 1);
    const back = bytesToFloats(unaligned.subarray(1));
    expect(Array.from(new Uint32Array(back.buffer, back.byteOffset, back.length))).toEqual(Array.from(bits));
  });
});

describe('firstNonFinite', () => {
  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('finds %s at its index', (_name, bad) => {
    for (const at of [0, 3, 9]) {
      const values = new Float32Array(10).fill(0.5);
      values[at] = bad;
      expect(firstNonFinite(values)).toBe(at);
    }
  });

  it('returns the first of several', () => {
    expect(firstNonFinite(new Float32Array([1, Infinity, NaN, -Infinity]))).toBe(1);
  });

  it('finds NaNs of any bit pattern, in a view that starts inside its buffer', () => {
    const bits = new Int32Array([0, 0x7f800001, 0, 0xffc00000 | 0, 0x7fffffff]);
    const values = new Float32Array(bits.buffer, 4);
    expect(firstNonFinite(values)).toBe(0);
    expect(firstNonFinite(values.subarray(1))).toBe(1);
    expect(firstNonFinite(values.subarray(3))).toBe(0);
    expect(firstNonFinite(new Float32Array(bits.buffer, 8, 1))).toBe(-1);
  });

  it('finds a float32 overflow (a float64 that rounds to Infinity)', () => {
    expect(firstNonFinite(new Float32Array([1, 1e39]))).toBe(1);
  });

  it('returns -1 for finite values including -0, denormals and the largest float', () => {
    const maxFloat = 3.4028234663852886e38;
    const minDenormal = 1.401298464324817e-45;
    const values = new Float32Array([
      0,
      -0,
      minDenormal,
      -minDenormal,
      1.1754942e-38,
      maxFloat,
      -maxFloat,
      1,
      -1,
    ]);
    expect(values[5]).toBe(maxFloat);
    expect(values[2]).toBe(minDenormal);
    expect(firstNonFinite(values)).toBe(-1);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
  });
});
