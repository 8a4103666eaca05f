import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/random.js';
import {
  clipToNorm,
  DEFAULT_TRUST_OPTIONS,
  l2Norm,
  MIN_RELATIVE_SPREAD,
  NormHistory,
  TrustScores,
} from './gradientGuard.js';

function normal(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function refNorm(g: Float32Array): number {
  let s = 0;
  for (const x of g) s += x * x;
  return Math.sqrt(s);
}

describe('l2Norm', () => {
  it('hand cases, odd and even lengths', () => {
    expect(l2Norm(new Float32Array())).toBe(0);
    expect(l2Norm(Float32Array.of(-7))).toBe(7);
    expect(l2Norm(Float32Array.of(3, 4))).toBe(5);
    expect(l2Norm(Float32Array.of(2, 3, 6))).toBe(7);
  });

  it('matches a plain float64 sum on random data', () => {
    const rand = mulberry32(1);
    for (const length of [1, 2, 3, 1000, 4097]) {
      const g = Float32Array.from({ length }, () => (rand() * 2 - 1) * 100);
      expect(Math.abs(l2Norm(g) - refNorm(g)) / refNorm(g)).toBeLessThan(1e-12);
    }
  });

  it('neither overflows nor underflows at the ends of float32', () => {
    const big = new Float32Array(4).fill(3e38);
    expect(l2Norm(big)).toBeCloseTo(6e38, -31);
    const tiny = new Float32Array(4).fill(1e-30);
    expect(l2Norm(tiny) / 2e-30).toBeCloseTo(1, 6);
  });
});

describe('clipToNorm', () => {
  it('returns the same array when within the norm', () => {
    const g = Float32Array.of(3, 4);
    for (const maxNorm of [5, 6, Infinity]) {
      const r = clipToNorm(g, maxNorm);
      expect(r.clipped).toBe(g);
      expect(r).toMatchObject({ norm: 5, scaled: false });
    }
  });

  it('returns a scaled copy, same direction, norm maxNorm, input untouched', () => {
    const rand = mulberry32(2);
    const g = Float32Array.from({ length: 10_001 }, () => rand() * 2 - 1);
    const before = g.slice();
    const original = refNorm(g);
    const r = clipToNorm(g, 0.5);
    expect(r.scaled).toBe(true);
    expect(r.clipped).not.toBe(g);
    expect(g).toEqual(before);
    expect(r.norm).toBeCloseTo(original, 9);
    expect(Math.abs(l2Norm(r.clipped) - 0.5) / 0.5).toBeLessThan(1e-6);
    for (let i = 0; i < g.length; i += 997) expect(r.clipped[i] / g[i]).toBeCloseTo(0.5 / original, 6);
  });

  it('refuses a maxNorm that is not > 0', () => {
    for (const maxNorm of [0, -1, NaN])
      expect(() => clipToNorm(Float32Array.of(1), maxNorm)).toThrow(RangeError);
  });
});

describe('NormHistory', () => {
  it('flags nothing before minSamples, then a 100x norm', () => {
    const h = new NormHistory();
    for (let i = 0; i < 19; i++) h.add(1 + 0.01 * i);
    expect(h.upperLimit()).toBe(Infinity);
    expect(h.isOutlier(100)).toBe(false);
    h.add(1);
    expect(h.isOutlier(100)).toBe(true);
    expect(h.isOutlier(1.1)).toBe(false);
    expect(h.isOutlier(50, { minSamples: 21 })).toBe(false);
  });

  it('no false positive on a long stable stream (slowly decaying, 10% noise), flags 100x spikes', () => {
    const seed = 3;
    const gauss = normal(mulberry32(seed));
    const h = new NormHistory();
    let falsePositives = 0;
    let spikesFlagged = 0;
    for (let step = 0; step < 10_000; step++) {
      // A training run: the norm halves over the run, with lognormal minibatch noise (sigma 0.1).
      const typical = 2 * Math.pow(0.5, step / 10_000);
      const norm = typical * Math.exp(0.1 * gauss());
      if (h.isOutlier(norm)) falsePositives++;
      else h.add(norm);
      if (step % 100 === 50) {
        // A 100x push every 100 steps: flagged, and (not added) never moves the baseline.
        if (h.isOutlier(100 * typical)) spikesFlagged++;
      }
    }
    expect(falsePositives, `seed ${seed}`).toBe(0);
    expect(spikesFlagged).toBe(100);
  });

  it('a stream of identical norms: the spread floor keeps near-median norms in', () => {
    const h = new NormHistory(50);
    for (let i = 0; i < 50; i++) h.add(2);
    expect(h.upperLimit()).toBeCloseTo(2 * (1 + 6 * MIN_RELATIVE_SPREAD), 12);
    expect(h.isOutlier(2.5)).toBe(false);
    expect(h.isOutlier(2.7)).toBe(true);
  });

  it('the limit is median + threshold * 1.4826 * MAD', () => {
    const h = new NormHistory();
    // 1..21: median 11, absolute deviations 0..10 (each but 0 twice): MAD 5.
    for (let i = 1; i <= 21; i++) h.add(i);
    expect(h.upperLimit()).toBeCloseTo(11 + 6 * 1.4826 * 5, 9);
    expect(h.upperLimit({ threshold: 2 })).toBeCloseTo(11 + 2 * 1.4826 * 5, 9);
  });

  it('keeps only the last `capacity` norms', () => {
    const h = new NormHistory(30);
    for (let i = 0; i < 30; i++) h.add(1);
    for (let i = 0; i < 30; i++) h.add(10);
    expect(h.size).toBe(30);
    expect(h.upperLimit()).toBeCloseTo(10 * (1 + 6 * MIN_RELATIVE_SPREAD), 9);
    expect(h.isOutlier(1)).toBe(false);
  });

  it('a genuine jump, clipped to the limit and added, is accepted within two windows', () => {
    const h = new NormHistory();
    for (let i = 0; i < 100; i++) h.add(1);
    let pushes = 0;
    while (h.isOutlier(10) && pushes < 1000) {
      h.add(clipToNorm(Float32Array.of(10), h.upperLimit()).clipped[0]);
      pushes++;
    }
    expect(pushes).toBeGreaterThan(0);
    expect(pushes).toBeLessThanOrEqual(200);
  });

  it('treats NaN and Infinity as outliers and refuses to store them', () => {
    const h = new NormHistory();
    expect(h.isOutlier(NaN)).toBe(true);
    expect(h.isOutlier(Infinity)).toBe(true);
    for (const bad of [NaN, Infinity, -1]) expect(() => h.add(bad)).toThrow(RangeError);
    expect(h.size).toBe(0);
  });

  it('keeps each owner to its share: at its share, a new norm replaces its own oldest', () => {
    const h = new NormHistory(100, 0.25);
    for (let i = 0; i < 10; i++) h.add(100, `other${i}`);
    for (let i = 1; i <= 75; i++) h.add(i, 'fast');
    expect(h.heldBy('fast')).toBe(25);
    expect(h.size).toBe(35);
    // What it holds are its latest norms (51..75): the baseline follows an owner's drift.
    const fastOnly = new NormHistory(100);
    for (let i = 51; i <= 75; i++) fastOnly.add(i);
    for (let i = 0; i < 10; i++) fastOnly.add(100);
    expect(h.upperLimit()).toBeCloseTo(fastOnly.upperLimit(), 12);
    // Norms without an owner, and other owners, still go oldest first at capacity.
    for (let i = 0; i < 100; i++) h.add(1);
    expect(h.size).toBe(100);
    expect(h.heldBy('fast')).toBe(0);
    expect(h.heldBy('other0')).toBe(0);
  });

  it('validates its parameters', () => {
    for (const capacity of [0, 1.5, -3]) expect(() => new NormHistory(capacity)).toThrow(RangeError);
    for (const share of [0, -0.5, 1.5, NaN]) expect(() => new NormHistory(100, share)).toThrow(RangeError);
    const h = new NormHistory();
    expect(() => h.upperLimit({ minSamples: 0 })).toThrow(RangeError);
    expect(() => h.upperLimit({ threshold: 0 })).toThrow(RangeError);
    expect(() => h.isOutlier(1, { threshold: NaN })).toThrow(RangeError);
  });
});

describe('TrustScores', () => {
  it('starts at 1, halves on a bad push, refuses after three in a row', () => {
    const t = new TrustScores();
    expect(t.get('a')).toBe(1);
    expect(t.refuses('a')).toBe(false);
    expect([t.recordBad('a'), t.recordBad('a')]).toEqual([0.5, 0.25]);
    expect(t.refuses('a')).toBe(false);
    expect(t.recordBad('a')).toBe(0.125);
    expect(t.refuses('a')).toBe(true);
    expect(t.refuses('a', 0.1)).toBe(false);
    expect(t.weightFor('a')).toBe(0.125);
    expect(t.get('b')).toBe(1);
  });

  it('recovers 0.02 per good push, capped at 1: 25 good pushes undo one bad', () => {
    const t = new TrustScores();
    t.recordGood('a');
    expect(t.get('a')).toBe(1);
    expect(t.size).toBe(0);
    t.recordBad('a');
    for (let i = 0; i < 24; i++) t.recordGood('a');
    expect(t.get('a')).toBeCloseTo(0.98, 12);
    for (let i = 0; i < 2; i++) t.recordGood('a');
    expect(t.get('a')).toBe(1);
    expect(t.size).toBe(0); // back at `initial`: no entry kept
  });

  it('forget restores the initial trust', () => {
    const t = new TrustScores();
    for (let i = 0; i < 5; i++) t.recordBad('a');
    expect(t.size).toBe(1);
    t.forget('a');
    expect(t.size).toBe(0);
    expect(t.get('a')).toBe(1);
  });

  it('one bad push in 10 ends in refusal, one in 12 never does', () => {
    const pushesUntilRefused = (period: number): number => {
      const t = new TrustScores();
      for (let push = 1; push <= 10_000; push++) {
        if (t.refuses('w')) return push;
        if (push % period === 0) t.recordBad('w');
        else t.recordGood('w');
      }
      return Infinity;
    };
    expect(pushesUntilRefused(10)).toBeLessThan(200);
    expect(pushesUntilRefused(12)).toBe(Infinity);
    // An honest worker with a false flag every 100 pushes.
    expect(pushesUntilRefused(100)).toBe(Infinity);
  });

  it('configurable: newcomers on probation, harsher penalty, no recovery', () => {
    const t = new TrustScores({ initial: 0.5, penalty: 0.1, recovery: 0 });
    expect(t.weightFor('new')).toBe(0.5);
    expect(t.refuses('new', 0.6)).toBe(true);
    t.recordGood('new');
    expect(t.size).toBe(0);
    expect(t.recordBad('new')).toBeCloseTo(0.05, 12);
    expect(t.refuses('new')).toBe(true);
  });

  it('validates its options', () => {
    expect(DEFAULT_TRUST_OPTIONS).toEqual({ initial: 1, penalty: 0.5, recovery: 0.02 });
    for (const options of [
      { initial: 0 },
      { initial: 1.1 },
      { penalty: 1 },
      { penalty: 0 },
      { recovery: -0.1 },
      { recovery: NaN },
    ]) {
      expect(() => new TrustScores(options)).toThrow(RangeError);
    }
  });
});
