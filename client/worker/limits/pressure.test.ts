import { describe, expect, it } from 'vitest';
import {
  latestState,
  pressureFactor,
  watchPressure,
  type PressureObserverFactory,
  type PressureRecordLike,
  type PressureState,
} from './pressure.js';

describe('pressureFactor', () => {
  it('halves the duty cycle under serious pressure, quarters it under critical', () => {
    expect(pressureFactor('nominal')).toBe(1);
    expect(pressureFactor('fair')).toBe(1);
    expect(pressureFactor('serious')).toBe(0.5);
    expect(pressureFactor('critical')).toBe(0.25);
    expect(pressureFactor(null)).toBe(1);
  });
});

describe('latestState', () => {
  it('takes the newest CPU record of a batch and skips what it does not know', () => {
    const records: PressureRecordLike[] = [
      { source: 'cpu', state: 'serious', time: 20 },
      { source: 'cpu', state: 'fair', time: 10 },
      { source: 'gpu', state: 'critical', time: 30 },
      { source: 'cpu', state: 'melting', time: 40 },
    ];
    expect(latestState(records)).toBe('serious');
    expect(latestState([])).toBeNull();
  });
});

/** A PressureObserver whose records the test hands in. */
function fakeObserver(options: { refuse?: boolean } = {}) {
  const state = {
    observing: false,
    disconnected: false,
    emit: (_r: PressureRecordLike[]) => undefined as void,
  };
  const factory: PressureObserverFactory = (callback) => {
    state.emit = (records) => callback(records);
    return {
      observe: async () => {
        if (options.refuse) throw new DOMException('not allowed', 'NotAllowedError');
        state.observing = true;
      },
      disconnect: () => {
        state.disconnected = true;
      },
    };
  };
  return { factory, state };
}

describe('watchPressure', () => {
  it('reports each new CPU state the observer hands over, until stopped', async () => {
    const { factory, state } = fakeObserver();
    const seen: PressureState[] = [];
    const stop = await watchPressure(factory, (s) => seen.push(s));
    expect(state.observing).toBe(true);
    state.emit([{ source: 'cpu', state: 'fair', time: 1 }]);
    state.emit([
      { source: 'cpu', state: 'serious', time: 2 },
      { source: 'cpu', state: 'critical', time: 3 },
    ]);
    state.emit([]);
    stop?.();
    expect(state.disconnected).toBe(true);
    expect(seen).toEqual(['fair', 'critical']);
  });

  it('gives null where the browser has no observer, or refuses to observe the CPU', async () => {
    expect(await watchPressure(null, () => undefined)).toBeNull();
    const { factory, state } = fakeObserver({ refuse: true });
    expect(await watchPressure(factory, () => undefined)).toBeNull();
    expect(state.disconnected).toBe(true);
  });
});
