import { f16round } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { floatsToHalfBytes, halfBytesToFloats } from './halfCodec.js';

describe('halfCodec', () => {
  it('halves the bytes, and a round trip is the float rounded to half precision', () => {
    const floats = Float32Array.from([0, -0, 1, -2.5, 1e-3, 3.14159, 65504, 1e-7, 0.1]);
    const bytes = floatsToHalfBytes(floats);
    expect(bytes.byteLength).toBe(floats.length * 2);
    expect(Array.from(halfBytesToFloats(bytes))).toEqual(Array.from(floats, (v) => f16round(v)));
  });

  it('keeps NaN and Infinity (the hub refuses them after decoding), and overflows to Infinity', () => {
    const decoded = halfBytesToFloats(floatsToHalfBytes(Float32Array.from([NaN, Infinity, -1e6])));
    expect(decoded[0]).toBeNaN();
    expect(decoded[1]).toBe(Infinity);
    expect(decoded[2]).toBe(-Infinity);
  });

  it('decodes from a Node Buffer at an odd offset, and refuses an odd length', () => {
    const bytes = floatsToHalfBytes(Float32Array.from([1, 2, 3]));
    const pooled = Buffer.alloc(bytes.length + 1);
    pooled.set(bytes, 1);
    expect(Array.from(halfBytesToFloats(pooled.subarray(1)))).toEqual([1, 2, 3]);
    expect(() => halfBytesToFloats(new Uint8Array(3))).toThrow(RangeError);
  });
});
