import { describe, expect, it } from 'vitest';
import { HubError } from '../../shared/errors.js';
import { GradientScreen } from './GradientScreen.js';

/** One shard, one piece: a gradient of `length` floats, each `value`. */
function gradientOf(value: number, length = 4) {
  return new Map([[0, [{ offset: 0, values: new Float32Array(length).fill(value) }]]]);
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof HubError ? error.code : String(error);
  }
}

describe('GradientScreen', () => {
  it('without trust, --clip-norm scales a long gradient down and accepts it', () => {
    const screen = new GradientScreen({ clipNorm: 1 });
    const { piecesByShard, weight } = screen.screen('w1', gradientOf(2));
    // norm 4 -> 1: every value scaled by 1/4.
    expect(Array.from(piecesByShard.get(0)![0].values)).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(weight).toBe(1);
  });

  it('with trust, --clip-norm is the bar before a baseline exists: above it is refused as an OUTLIER', () => {
    const screen = new GradientScreen({ clipNorm: 5, trust: true });
    expect(codeOf(() => screen.screen('bad', gradientOf(100)))).toBe('OUTLIER');
    expect(codeOf(() => screen.screen('good', gradientOf(1)))).toBeUndefined();
  });

  it('with trust, a norm far above the recent accepted ones is refused, costs trust, and ends in UNTRUSTED', () => {
    const screen = new GradientScreen({ trust: true });
    // Ten pushes each: the first five earn each volunteer the trust its norms need to make the baseline.
    for (let i = 0; i < 30; i++) screen.screen(`honest${i % 3}`, gradientOf(1 + (i % 3) * 0.1));
    const honestTrust = screen.trust.get('honest0');
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 10; i++) codes.push(codeOf(() => screen.screen('bad', gradientOf(50))));
    expect(codes[0]).toBe('OUTLIER');
    expect(codes.at(-1)).toBe('UNTRUSTED');
    // An honest worker is not touched by the other's refusals (a newcomer's probation aside).
    // Its weight is its trust after this accepted push: one recovery step above where it was.
    expect(screen.screen('honest0', gradientOf(1)).weight).toBeCloseTo(honestTrust + 0.02, 10);
  });

  // The two lies below each refuse the honest norms when their defence is taken out (all newcomers'
  // norms in the baseline; no share per volunteer): measured, each fails on its own.

  /** Three honest volunteers with norms of 2.0-2.4 (gradientOf(1-1.2)), trusted and in the baseline. */
  function screenWithHonestBaseline(): GradientScreen {
    const screen = new GradientScreen({ clipNorm: 20, trust: true });
    for (let i = 0; i < 60; i++) screen.screen(`honest${i % 3}`, gradientOf(1 + (i % 3) * 0.1));
    return screen;
  }

  it('the lie: 300 newcomers pushing tiny norms (each accepted) do not pull the baseline under the honest norms', () => {
    const screen = screenWithHonestBaseline();
    // Each a fresh identity that pushes once: what a poisoner reconnecting as a newcomer looks like.
    for (let i = 0; i < 300; i++)
      expect(codeOf(() => screen.screen(`newcomer${i}`, gradientOf(0.05)))).toBeUndefined();
    // An honest gradient of the usual size, even 1.5x it, is still accepted, and costs no trust.
    const before = screen.trust.get('honest0');
    expect(codeOf(() => screen.screen('honest0', gradientOf(1.5)))).toBeUndefined();
    expect(screen.trust.get('honest0')).toBeGreaterThanOrEqual(before);
  });

  it('the lie: one trusted volunteer pushing tiny norms fast holds a quarter of the baseline at most; honest ones stay accepted', () => {
    const screen = screenWithHonestBaseline();
    // It earned its trust honestly first, then pushes 300 tiny norms while the others push nothing.
    for (let i = 0; i < 10; i++) screen.screen('patient', gradientOf(1));
    for (let i = 0; i < 300; i++)
      expect(codeOf(() => screen.screen('patient', gradientOf(0.05)))).toBeUndefined();
    for (const honest of ['honest0', 'honest1', 'honest2']) {
      expect(codeOf(() => screen.screen(honest, gradientOf(1.5)))).toBeUndefined();
    }
  });

  it('a huge norm is still refused after the flood: the share does not blunt the screen', () => {
    const screen = screenWithHonestBaseline();
    for (let i = 0; i < 300; i++) screen.screen(`newcomer${i}`, gradientOf(0.05));
    expect(codeOf(() => screen.screen('honest0', gradientOf(50)))).toBe('OUTLIER');
  });
});
