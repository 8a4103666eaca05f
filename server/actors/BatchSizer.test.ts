import { describe, expect, it } from 'vitest';
import { BatchSizer } from './BatchSizer.js';

const OPTIONS = { targetStepMs: 1000, minBatch: 8, maxBatch: 512, initialBatch: 32 };

describe('BatchSizer', () => {
  it('a worker not measured yet gets initialBatch', () => {
    expect(new BatchSizer(OPTIONS).batchSizeFor('w1')).toBe(32);
  });

  it('clamp(round(targetStepMs / ms per example), minBatch, maxBatch)', () => {
    const sizer = new BatchSizer(OPTIONS);
    sizer.record('mid', 100, 400); // 4 ms/example -> 250
    sizer.record('half', 10, 160); // 16 ms/example -> 62.5 -> 63
    sizer.record('slow', 10, 5000); // 500 ms/example -> 2, clamped to 8
    sizer.record('fast', 1000, 100); // 0.1 ms/example -> 10000, clamped to 512
    expect(sizer.batchSizeFor('mid')).toBe(250);
    expect(sizer.batchSizeFor('half')).toBe(63);
    expect(sizer.batchSizeFor('slow')).toBe(8);
    expect(sizer.batchSizeFor('fast')).toBe(512);
  });

  it('speeds are a moving average of ms per example, newest weighted 0.3', () => {
    const sizer = new BatchSizer(OPTIONS);
    sizer.record('w', 10, 100); // 10 ms/example
    sizer.record('w', 10, 200); // 20: average 10 + 0.3 x 10 = 13
    expect(sizer.batchSizeFor('w')).toBe(Math.round(1000 / 13));
    sizer.record('w', 100, 500); // 5: 13 + 0.3 x (5 - 13) = 10.6
    expect(sizer.batchSizeFor('w')).toBe(Math.round(1000 / 10.6));
  });

  it('measurements are per example: the batch size behind a measurement does not matter', () => {
    const sizer = new BatchSizer(OPTIONS);
    sizer.record('small', 8, 80);
    sizer.record('large', 256, 2560);
    expect(sizer.batchSizeFor('small')).toBe(sizer.batchSizeFor('large'));
  });

  it('ignores measurements without examples or time (zero, negative, NaN)', () => {
    const sizer = new BatchSizer(OPTIONS);
    sizer.record('w', 0, 100);
    sizer.record('w', 10, 0);
    sizer.record('w', -5, 100);
    sizer.record('w', 10, Number.NaN);
    sizer.record('w', Number.NaN, 10);
    expect(sizer.batchSizeFor('w')).toBe(32);
    sizer.record('w', 10, 100);
    sizer.record('w', 10, -1);
    expect(sizer.batchSizeFor('w')).toBe(100);
  });

  it('workers are independent; forget returns a worker to initialBatch', () => {
    const sizer = new BatchSizer(OPTIONS);
    sizer.record('a', 10, 100);
    sizer.record('b', 10, 50);
    expect([sizer.batchSizeFor('a'), sizer.batchSizeFor('b')]).toEqual([100, 200]);
    sizer.forget('a');
    expect([sizer.batchSizeFor('a'), sizer.batchSizeFor('b')]).toEqual([32, 200]);
    sizer.forget('unknown');
    sizer.record('a', 10, 400); // a fresh start, not averaged with the forgotten speed
    expect(sizer.batchSizeFor('a')).toBe(25);
  });
});
