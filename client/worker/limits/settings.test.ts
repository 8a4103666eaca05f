import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  limitsFromQuery,
  rememberedLimits,
  rememberLimits,
  resolveLimits,
  searchWithout,
} from './settings.js';

/** localStorage's two calls over a Map. */
function memoryStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    items,
  };
}

describe('limitsFromQuery', () => {
  it('reads every limit a link can carry', () => {
    expect(limitsFromQuery('?cpu=25&battery=off&idle=on&pressure=off&backend=wasm')).toEqual({
      limits: { cpu: 25, batteryBelow: null, onlyWhenAway: true, pressureBackoff: false },
      problems: [],
    });
    expect(limitsFromQuery('?cpu=30%25&battery=15').limits).toEqual({ cpu: 30, batteryBelow: 15 });
    expect(limitsFromQuery('').limits).toEqual({});
  });

  it('clamps a cpu share out of range, and reports what makes no sense', () => {
    expect(limitsFromQuery('?cpu=2').limits.cpu).toBe(10);
    expect(limitsFromQuery('?cpu=250').limits.cpu).toBe(100);
    const { limits, problems } = limitsFromQuery('?cpu=lots&battery=-5&idle=maybe');
    expect(limits).toEqual({});
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^\?cpu=: cpu must be a percentage/);
  });
});

describe('remembered limits', () => {
  it('come back as they were saved', () => {
    const storage = memoryStorage();
    const limits = { cpu: 35, batteryBelow: null, onlyWhenAway: true, pressureBackoff: false };
    rememberLimits(storage, limits);
    expect(rememberedLimits(storage)).toEqual(limits);
  });

  it('drop what does not check out, and survive garbage or no storage', () => {
    const storage = memoryStorage();
    storage.setItem('volunteer-limits', JSON.stringify({ cpu: 500, batteryBelow: 'x', onlyWhenAway: true }));
    expect(rememberedLimits(storage)).toEqual({ onlyWhenAway: true });
    storage.setItem('volunteer-limits', '{not json');
    expect(rememberedLimits(storage)).toEqual({});
    expect(rememberedLimits(null)).toEqual({});
    rememberLimits(
      {
        setItem: () => {
          throw new Error('QuotaExceededError');
        },
      },
      DEFAULT_LIMITS,
    );
  });
});

describe('resolveLimits', () => {
  it('takes the link over the remembered over the defaults', () => {
    expect(resolveLimits({}, {})).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ cpu: 30, onlyWhenAway: true }, { cpu: 80 })).toEqual({
      ...DEFAULT_LIMITS,
      cpu: 80,
      onlyWhenAway: true,
    });
  });
});

describe('searchWithout', () => {
  it('drops the parameters of the limits changed on the page, and keeps the rest', () => {
    expect(searchWithout('?cpu=25&backend=wasm', ['cpu'])).toBe('?backend=wasm');
    expect(searchWithout('?cpu=25', ['cpu', 'batteryBelow'])).toBe('');
  });
});
