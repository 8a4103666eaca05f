import { describe, expect, it, vi } from 'vitest';
import { RateMeter } from './RateMeter.js';

/** A clock the test moves by hand, in ms. */
function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('RateMeter', () => {
  it('is 0 with no events and with one event', () => {
    const clock = manualClock();
    const meter = new RateMeter(10_000, clock.now);
    expect(meter.perSecond()).toBe(0);
    meter.record(64);
    expect(meter.perSecond()).toBe(0);
    clock.advance(500);
    expect(meter.perSecond()).toBe(0);
  });

  it('does not count the first event’s amount: it happened before the window started', () => {
    const clock = manualClock();
    const meter = new RateMeter(10_000, clock.now);
    meter.record(10);
    clock.advance(1000);
    meter.record(20);
    expect(meter.perSecond()).toBe(20);
  });

  it('measures a steady rate', () => {
    const clock = manualClock();
    const meter = new RateMeter(10_000, clock.now);
    // 64 examples every 100 ms = 640/s, for 30 s.
    for (let i = 0; i < 300; i++) {
      meter.record(64);
      clock.advance(100);
    }
    clock.advance(-100); // read at the moment of the last event
    expect(meter.perSecond()).toBeCloseTo(640, 6);
  });

  it('follows a change of rate once the old events leave the window', () => {
    const clock = manualClock();
    const meter = new RateMeter(2_000, clock.now);
    for (let i = 0; i < 50; i++) {
      meter.record(100);
      clock.advance(100);
    }
    for (let i = 0; i < 50; i++) {
      meter.record(10);
      clock.advance(100);
    }
    clock.advance(-100);
    // Only the last 2 s are in the window: 10 every 100 ms.
    expect(meter.perSecond()).toBeCloseTo(100, 6);
  });

  it('decays while idle and reaches 0 once the window is empty', () => {
    const clock = manualClock();
    const meter = new RateMeter(10_000, clock.now);
    meter.record(10);
    clock.advance(1000);
    meter.record(10);
    expect(meter.perSecond()).toBe(10);
    clock.advance(1000);
    expect(meter.perSecond()).toBe(5);
    clock.advance(8000); // now 10 s after the first event: still inside (the bound is inclusive)
    expect(meter.perSecond()).toBe(1);
    clock.advance(1); // the first event leaves; one event is left
    expect(meter.perSecond()).toBe(0);
    clock.advance(20_000);
    expect(meter.perSecond()).toBe(0);
  });

  it('is 0 (not Infinity or NaN) when every event has the same timestamp', () => {
    const clock = manualClock();
    const meter = new RateMeter(10_000, clock.now);
    meter.record(5);
    meter.record(5);
    expect(meter.perSecond()).toBe(0);
  });

  it('starts counting again after a long gap', () => {
    const clock = manualClock();
    const meter = new RateMeter(1_000, clock.now);
    meter.record(1000);
    clock.advance(60_000);
    meter.record(7);
    clock.advance(500);
    meter.record(7);
    expect(meter.perSecond()).toBe(14);
  });

  it('keeps only the events inside the window (memory bounded by the rate)', () => {
    const clock = manualClock();
    const meter = new RateMeter(1_000, clock.now);
    for (let i = 0; i < 10_000; i++) {
      meter.record(1);
      clock.advance(10);
    }
    const events = (meter as unknown as { events: unknown[] }).events;
    expect(events.length).toBeLessThanOrEqual(101);
    expect(events.length).toBeGreaterThanOrEqual(99);
  });

  it('uses Date.now and a 10 s window by default', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const meter = new RateMeter();
      meter.record(10);
      vi.setSystemTime(1000);
      meter.record(10);
      expect(meter.perSecond()).toBe(10);
      vi.setSystemTime(10_000);
      expect(meter.perSecond()).toBe(1);
      vi.setSystemTime(10_001);
      expect(meter.perSecond()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
