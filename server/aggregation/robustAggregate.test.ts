import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/random.js';
import {
  aggregate,
  AGGREGATION_RULES,
  DEFAULT_CLIP_ITERATIONS,
  DEFAULT_TRIM_FRACTION,
  isAggregationRule,
  trimCount,
  type AggregateOptions,
  type AggregationRule,
} from './robustAggregate.js';

/** Standard normal samples (Box-Muller) from a uniform PRNG. */
function normal(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function randomGradients(rand: () => number, n: number, length: number, ties = false): Float32Array[] {
  const gs: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const g = new Float32Array(length);
    // ties: a few distinct values per coordinate, so equal values (and their order) are exercised.
    for (let j = 0; j < length; j++) g[j] = ties ? Math.round(rand() * 4) - 2 : (rand() * 2 - 1) * 3;
    gs.push(g);
  }
  return gs;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * a[j];
  return Math.sqrt(s);
}

function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] - b[j]) ** 2;
  return Math.sqrt(s);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let j = 0; j < a.length; j++) max = Math.max(max, Math.abs(a[j] - b[j]));
  return max;
}

// Reference implementations: the definitions, written plainly (float64, Array.sort, no shortcuts).

function refMean(gs: Float32Array[], weights: number[]): Float64Array {
  const total = weights.reduce((s, w) => s + w, 0);
  const out = new Float64Array(gs[0].length);
  for (const [i, g] of gs.entries()) for (let j = 0; j < g.length; j++) out[j] += weights[i] * g[j];
  return out.map((x) => x / total);
}

function column(gs: Float32Array[], j: number): number[] {
  return gs.map((g) => g[j]).sort((a, b) => a - b);
}

function refMedian(gs: Float32Array[]): Float32Array {
  const n = gs.length;
  return Float32Array.from({ length: gs[0].length }, (_, j) => {
    const c = column(gs, j);
    return n % 2 === 1 ? c[(n - 1) / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  });
}

function refTrimmedMean(gs: Float32Array[], k: number): Float32Array {
  return Float32Array.from({ length: gs[0].length }, (_, j) => {
    const kept = column(gs, j).slice(k, gs.length - k);
    return kept.reduce((s, x) => s + x, 0) / kept.length;
  });
}

function refCenteredClip(
  gs: Float32Array[],
  tau: number | undefined,
  iterations: number,
  center?: Float32Array,
) {
  const n = gs.length;
  let v = center === undefined ? new Float64Array(gs[0].length) : Float64Array.from(center);
  const t = tau ?? refMedianOf(gs.map((g) => distance(g, v)));
  for (let it = 0; it < iterations; it++) {
    const next = Float64Array.from(v);
    for (const g of gs) {
      const d = distance(g, v);
      const c = d === 0 ? 1 : Math.min(1, t / d);
      for (let j = 0; j < g.length; j++) next[j] += ((g[j] - v[j]) * c) / n;
    }
    v = next;
  }
  return v;
}

function refMedianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 32];
const LENGTH = 257;

describe('aggregate: hand cases', () => {
  const g = (...xs: number[]) => Float32Array.from(xs);

  it('mean is example-weighted', () => {
    expect(aggregate('mean', [g(0, 10), g(4, 2)], [1, 3])).toEqual(g(3, 4));
    expect(aggregate('mean', [g(1.5, -2)], [64])).toEqual(g(1.5, -2));
  });

  it('median: middle value for odd n, mean of the two middle values for even n, unweighted', () => {
    expect(aggregate('median', [g(1, -1), g(5, -9), g(3, 7)], [1, 1, 1000])).toEqual(g(3, -1));
    expect(aggregate('median', [g(1, 0), g(4, 0), g(2, 1), g(10, 1)], [1, 2, 3, 4])).toEqual(g(3, 0.5));
    expect(aggregate('median', [g(2, 3)], [1])).toEqual(g(2, 3));
  });

  it('trimmed-mean drops k per side and averages the rest', () => {
    // n = 5: k = max(1, floor(0.2 * 5)) = 1 -> mean(2, 3, 4); -100 and 100 dropped.
    const five = [g(1, 100), g(2, 3), g(3, -100), g(4, 2), g(100, 4)];
    expect(aggregate('trimmed-mean', five, [1, 1, 1, 1, 1])).toEqual(g(3, 3));
    // n = 10: k = 2.
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 1000, -1000].map((x) => g(x));
    expect(aggregate('trimmed-mean', ten, new Array(10).fill(1))).toEqual(g((2 + 3 + 4 + 5 + 6 + 7) / 6));
    // n = 2: nothing can be trimmed without trimming all: the unweighted mean.
    expect(aggregate('trimmed-mean', [g(1), g(4)], [1, 100])).toEqual(g(2.5));
    // trimFraction 0: no trimming.
    expect(aggregate('trimmed-mean', [g(1), g(2), g(9)], [1, 1, 1], { trimFraction: 0 })).toEqual(g(4));
  });

  it('trimCount: floor(f n), at least 1 from n = 3, never all', () => {
    const counts = [1, 2, 3, 4, 5, 9, 10, 14, 15, 32].map((n) => trimCount(n, DEFAULT_TRIM_FRACTION));
    expect(counts).toEqual([0, 0, 1, 1, 1, 1, 2, 2, 3, 6]);
    expect(trimCount(5, 0.49)).toBe(2); // leaves 1
    expect(trimCount(4, 0.49)).toBe(1); // leaves 2
    expect(trimCount(3, 0.49)).toBe(1);
    expect(trimCount(8, 0)).toBe(0);
  });

  it('centered-clip: moves by at most tau per iteration toward a far gradient', () => {
    // One gradient (3, 4), norm 5, tau 1: v1 = (0.6, 0.8); g - v1 has norm 4, clipped to 1: v2 = (1.2, 1.6).
    const one = aggregate('centered-clip', [g(3, 4)], [1], { clipTau: 1, clipIterations: 1 });
    expect(maxAbsDiff(one, [0.6, 0.8])).toBeLessThan(1e-6);
    const two = aggregate('centered-clip', [g(3, 4)], [1], { clipTau: 1, clipIterations: 2 });
    expect(maxAbsDiff(two, [1.2, 1.6])).toBeLessThan(1e-6);
    // Default tau = ||g - center|| for a single gradient: it is reached in one step.
    expect(aggregate('centered-clip', [g(3, 4)], [1], { center: g(1, 1) })).toEqual(g(3, 4));
    // All gradients equal the center: default tau 0, v stays there.
    expect(aggregate('centered-clip', [g(1, 1), g(1, 1), g(7, 7)], [1, 1, 1], { center: g(1, 1) })).toEqual(
      g(1, 1),
    );
  });

  it('leaves its inputs and the center untouched', () => {
    const gs = [g(1, 2), g(3, -4), g(50, 6)];
    const copies = gs.map((x) => x.slice());
    const center = g(0.5, 0.5);
    for (const rule of AGGREGATION_RULES) {
      const out = aggregate(rule, gs, [1, 2, 3], { center: rule === 'centered-clip' ? center : undefined });
      for (const x of gs) expect(out).not.toBe(x);
    }
    expect(gs).toEqual(copies);
    expect(center).toEqual(g(0.5, 0.5));
  });
});

describe('aggregate: against reference implementations on seeded random data', () => {
  for (const n of SIZES) {
    for (const ties of [false, true]) {
      it(`n = ${n}${ties ? ', with ties' : ''}`, () => {
        const seed = 1000 * n + (ties ? 1 : 0);
        const rand = mulberry32(seed);
        const gs = randomGradients(rand, n, LENGTH, ties);
        const weights = gs.map(() => 1 + Math.floor(rand() * 128));

        expect(maxAbsDiff(aggregate('mean', gs, weights), refMean(gs, weights)), `seed ${seed}`).toBeLessThan(
          1e-6,
        );
        // Same comparisons and float64 arithmetic as the definition: identical, not merely close.
        expect(aggregate('median', gs, weights), `seed ${seed}`).toEqual(refMedian(gs));
        for (const trimFraction of [DEFAULT_TRIM_FRACTION, 0, 0.1, 0.3, 0.49]) {
          const got = aggregate('trimmed-mean', gs, weights, { trimFraction });
          const want = refTrimmedMean(gs, trimCount(n, trimFraction));
          // The k = 1 path sums in index order, not sorted order: equal up to float32 rounding.
          expect(maxAbsDiff(got, want), `seed ${seed} trim ${trimFraction}`).toBeLessThan(1e-6);
        }
        const center = randomGradients(rand, 1, LENGTH)[0];
        const cases: AggregateOptions[] = [
          {},
          { clipIterations: 1 },
          { clipTau: 0.5, clipIterations: 5 },
          { center },
        ];
        for (const options of cases) {
          const got = aggregate('centered-clip', gs, weights, options);
          const want = refCenteredClip(
            gs,
            options.clipTau,
            options.clipIterations ?? DEFAULT_CLIP_ITERATIONS,
            options.center,
          );
          // v is stored in float32 between iterations, the reference keeps float64.
          expect(maxAbsDiff(got, want), `seed ${seed} ${JSON.stringify(options.clipTau)}`).toBeLessThan(1e-5);
        }
      });
    }
  }
});

describe('aggregate: one Byzantine gradient among four', () => {
  const D = 10_000;
  const rand = mulberry32(7);
  const gauss = normal(rand);
  const trueGradient = Float32Array.from({ length: D }, gauss);
  // Three honest minibatch gradients: the true gradient plus noise of 0.3 per coordinate.
  const honest = [0, 1, 2].map(() => trueGradient.map((x) => x + 0.3 * gauss()));
  const honestMean = refMean(honest, [1, 1, 1]);
  const scale = norm(honestMean);
  // The previous aggregate, as a centered-clip center: close to this round's honest mean, not equal.
  const previous = Float32Array.from(honestMean, (x) => x + 0.1 * gauss());
  const attacks: Record<string, Float32Array> = {
    '-10x the honest mean': Float32Array.from(honestMean, (x) => -10 * x),
    'huge-norm noise': Float32Array.from({ length: D }, () => 1000 * gauss()),
  };

  /** ||aggregate - honest mean|| / ||honest mean||. */
  function relativeError(rule: AggregationRule, gs: Float32Array[], options?: AggregateOptions): number {
    return distance(aggregate(rule, gs, [64, 64, 64, 64], options), honestMean) / scale;
  }

  it('with no Byzantine gradient, centered-clip is the mean', () => {
    const fourHonest = [...honest, trueGradient.map((x) => x + 0.3 * gauss())];
    const mean = refMean(fourHonest, [1, 1, 1, 1]);
    for (const center of [undefined, previous]) {
      const cc = aggregate('centered-clip', fourHonest, [64, 64, 64, 64], { center });
      expect(distance(cc, mean) / norm(mean)).toBeLessThan(1e-3);
    }
  });

  for (const [attack, byzantine] of Object.entries(attacks)) {
    it(attack, () => {
      const gs = [honest[0], byzantine, honest[1], honest[2]];
      const errors = {
        mean: relativeError('mean', gs),
        median: relativeError('median', gs),
        trimmedMean: relativeError('trimmed-mean', gs),
        centeredClipFromZeros: relativeError('centered-clip', gs),
        centeredClipFromPrevious: relativeError('centered-clip', gs, { center: previous }),
      };
      console.log(`one Byzantine gradient (${attack}) among 4: relative error`, errors);
      expect(errors.mean).toBeGreaterThan(2);
      expect(errors.median).toBeLessThan(0.3);
      expect(errors.trimmedMean).toBeLessThan(0.3);
      // From zeros the default tau is about an honest gradient's norm, so one bad gradient can still pull by
      // ~tau / (n - 1); from the previous aggregate tau is about the honest spread.
      expect(errors.centeredClipFromZeros).toBeLessThan(0.5);
      expect(errors.centeredClipFromPrevious).toBeLessThan(0.15);
    });
  }
});

describe('aggregate: validation', () => {
  const a = new Float32Array(4);
  const b = new Float32Array(4);

  it('refuses a malformed round with RangeError', () => {
    expect(() => aggregate('mean', [], [])).toThrow(RangeError);
    expect(() => aggregate('mean', [a, b], [1])).toThrow(RangeError);
    expect(() => aggregate('median', [a, new Float32Array(5)], [1, 1])).toThrow(RangeError);
    for (const w of [0, -1, NaN, Infinity])
      expect(() => aggregate('mean', [a, b], [1, w])).toThrow(RangeError);
    expect(() => aggregate('bogus' as AggregationRule, [a], [1])).toThrow(RangeError);
  });

  it('refuses bad options, whatever the rule', () => {
    const bad: AggregateOptions[] = [
      { trimFraction: 0.5 },
      { trimFraction: -0.1 },
      { trimFraction: NaN },
      { clipTau: 0 },
      { clipTau: Infinity },
      { clipIterations: 0 },
      { clipIterations: 1.5 },
      { center: new Float32Array(3) },
    ];
    for (const options of bad) {
      for (const rule of AGGREGATION_RULES)
        expect(() => aggregate(rule, [a, b], [1, 1], options)).toThrow(RangeError);
    }
  });

  it('isAggregationRule', () => {
    for (const rule of AGGREGATION_RULES) expect(isAggregationRule(rule)).toBe(true);
    expect(isAggregationRule('krum')).toBe(false);
  });
});
