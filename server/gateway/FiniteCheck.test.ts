import { describe, expect, it } from 'vitest';
import { firstNonFinite } from '../../shared/floatCodec.js';
import { mulberry32 } from '../../shared/random.js';
import { FiniteCheck } from './FiniteCheck.js';

function randomValues(n: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (random() - 0.5) * 10);
}

/** Float32 bit patterns with every exponent bit set: ±Infinity, quiet and signalling NaNs, negative NaN. */
const NON_FINITE_BITS = [0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x7fbfffff];

describe('FiniteCheck', () => {
  it('finds the first non-finite value wherever it is: in a vector step, across steps, in the tail', () => {
    const n = 1_000 + 13; // 63 steps of sixteen floats and a tail of 5
    const check = new FiniteCheck(n);
    const positions = [0, 1, 3, 4, 15, 16, 17, 31, 32, 47, 48, 63, 64, 500, 1_007, 1_008, n - 1];
    for (const [k, at] of positions.entries()) {
      const values = randomValues(n, k + 1);
      new Uint32Array(values.buffer)[at] = NON_FINITE_BITS[k % NON_FINITE_BITS.length];
      expect(check.firstNonFinite(values)).toBe(at);
      expect(firstNonFinite(values)).toBe(at);
    }
  });

  it('names the first of several, and answers -1 for finite values, extremes included', () => {
    const check = new FiniteCheck(64);
    const values = randomValues(64, 7);
    values[40] = NaN;
    values[20] = -Infinity;
    values[21] = Infinity;
    expect(check.firstNonFinite(values)).toBe(20);
    const extremes = new Float32Array([3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 0, -0]);
    expect(check.firstNonFinite(extremes)).toBe(-1);
    // 1e39 is past float32's range: stored as Infinity.
    expect(check.firstNonFinite(new Float32Array([1, 1e39]))).toBe(1);
  });

  it('checks views at any offset, empty arrays, and a later shorter array without the earlier values', () => {
    const check = new FiniteCheck(32);
    const bytes = new Uint8Array(4 * 33 + 1);
    const floats = new Float32Array(bytes.buffer, 4, 32);
    floats.set(randomValues(32, 3));
    floats[31] = NaN;
    expect(check.firstNonFinite(floats)).toBe(31);
    // What the last check copied in is not read again: only `values.length` floats count.
    expect(check.firstNonFinite(floats.subarray(0, 31))).toBe(-1);
    expect(check.firstNonFinite(new Float32Array(0))).toBe(-1);
  });

  it('checks an array longer than its memory with the JavaScript loop', () => {
    const check = new FiniteCheck(16);
    const values = randomValues(100, 5);
    values[90] = Infinity;
    expect(check.firstNonFinite(values)).toBe(90);
    expect(check.firstNonFinite(randomValues(100, 6))).toBe(-1);
  });

  it('agrees with the JavaScript loop on seeded random arrays with random bit patterns', () => {
    const check = new FiniteCheck(300);
    const random = mulberry32(2024);
    for (let trial = 0; trial < 200; trial++) {
      const n = Math.floor(random() * 300);
      const bits = Uint32Array.from({ length: n }, () => Math.floor(random() * 2 ** 32));
      // Mostly finite: random exponents are rarely all ones, and these trials set a few on purpose.
      if (n > 0 && random() < 0.5) bits[Math.floor(random() * n)] |= 0x7f800000;
      const values = new Float32Array(bits.buffer);
      expect(check.firstNonFinite(values), `trial ${trial}, n ${n}`).toBe(firstNonFinite(values));
    }
  });
});
