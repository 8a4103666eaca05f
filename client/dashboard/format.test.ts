import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatBytes,
  formatClock,
  formatCompact,
  formatConstant,
  formatPercent,
  formatRate,
} from './format.js';

describe('format', () => {
  it('clocks', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(75)).toBe('1:15');
    expect(formatClock(3725)).toBe('1:02:05');
  });
  it('rates, percents, bytes, constants', () => {
    expect(formatRate(0)).toBe('0');
    expect(formatRate(1234.5)).toBe('1,235');
    expect(formatRate(12.34)).toBe('12.3');
    expect(formatPercent(0.97312)).toBe('97.31 %');
    expect(formatPercent(null)).toBe('-');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(4_560_000)).toBe('4.56 MB');
    expect(formatConstant(0.001)).toBe('0.001');
    expect(formatConstant(0.00001)).toBe('1e-5');
  });
  it('compact axis ticks', () => {
    expect(formatCompact(950)).toBe('950');
    expect(formatCompact(12_000)).toBe('12k');
    expect(formatCompact(3_400_000)).toBe('3.4M');
    expect(formatCompact(0.125)).toBe('0.125');
    expect(formatCompact(-0.25)).toBe('-0.25');
  });
  it('ago', () => {
    expect(formatAgo(1000, 1500)).toBe('now');
    expect(formatAgo(0, 4000)).toBe('4 s ago');
    expect(formatAgo(0, 600_000)).toBe('10 min ago');
  });
});
