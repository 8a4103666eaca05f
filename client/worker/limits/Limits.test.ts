import { describe, expect, it } from 'vitest';
import type { BatteryLike } from './battery.js';
import { Limits, type LimitsEnvironment } from './Limits.js';
import type { PresenceEnvironment } from './presence.js';
import type { PressureObserverFactory, PressureRecordLike } from './pressure.js';
import { DEFAULT_LIMITS, type LimitSettings } from './settings.js';

class FakeBattery extends EventTarget implements BatteryLike {
  constructor(
    public level: number,
    public charging: boolean,
  ) {
    super();
  }
  set(level: number, charging: boolean): void {
    this.level = level;
    this.charging = charging;
    this.dispatchEvent(new Event('levelchange'));
  }
}

/** Every browser API the limits read, faked at its boundary. */
function fakeMachine() {
  const battery = new FakeBattery(0.9, false);
  let emit: (records: PressureRecordLike[]) => void = () => undefined;
  const pressure: PressureObserverFactory = (callback) => {
    emit = (records) => callback(records);
    return { observe: async () => undefined, disconnect: () => undefined };
  };
  const page = { visible: true, listeners: new Set<() => void>() };
  const presence: PresenceEnvironment = {
    idle: null,
    visibility: {
      visible: () => page.visible,
      onChange: (listener) => {
        page.listeners.add(listener);
        return () => page.listeners.delete(listener);
      },
    },
  };
  const saved: string[] = [];
  const env: LimitsEnvironment = {
    getBattery: async () => battery,
    pressure,
    presence,
    storage: { setItem: (_key, value) => void saved.push(value) },
  };
  return {
    env,
    battery,
    saved,
    pressure: (state: string) => emit([{ source: 'cpu', state, time: performance.now() }]),
    setVisible(visible: boolean) {
      page.visible = visible;
      for (const listener of page.listeners) listener();
    },
  };
}

async function started(machine: ReturnType<typeof fakeMachine>, settings: Partial<LimitSettings> = {}) {
  const limits = new Limits(machine.env, { ...DEFAULT_LIMITS, ...settings });
  await limits.start();
  return limits;
}

describe('Limits', () => {
  it('shares the cpu setting, halved under serious pressure and back after', async () => {
    const machine = fakeMachine();
    const limits = await started(machine, { cpu: 40 });
    expect(limits.share()).toBeCloseTo(0.4);
    machine.pressure('serious');
    expect(limits.share()).toBeCloseTo(0.2);
    expect(limits.getSnapshot().pressure).toBe('serious');
    machine.pressure('critical');
    expect(limits.share()).toBeCloseTo(0.1);
    machine.pressure('nominal');
    expect(limits.share()).toBeCloseTo(0.4);
    // Switched off, pressure is shown but not obeyed.
    limits.set({ pressureBackoff: false });
    machine.pressure('critical');
    expect(limits.share()).toBeCloseTo(0.4);
  });

  it('holds on a low battery and lets go on charge, by the level set', async () => {
    const machine = fakeMachine();
    const limits = await started(machine);
    expect(limits.getSnapshot().hold).toBeNull();
    machine.battery.set(0.15, false);
    expect(limits.getSnapshot().hold).toBe('on battery at 15%');
    machine.battery.set(0.15, true);
    expect(limits.getSnapshot().hold).toBeNull();
    machine.battery.set(0.15, false);
    limits.set({ batteryBelow: null });
    expect(limits.getSnapshot().hold).toBeNull();
    limits.set({ batteryBelow: 50 });
    expect(limits.getSnapshot().hold).toBe('on battery at 15%');
  });

  it('holds while the tab is in view once "only while away" is on, and not after it is off', async () => {
    const machine = fakeMachine();
    const limits = await started(machine);
    machine.setVisible(true);
    expect(limits.getSnapshot().hold).toBeNull();
    limits.set({ onlyWhenAway: true });
    await expect.poll(() => limits.getSnapshot().presence).toBe('visibility');
    expect(limits.getSnapshot().hold).toMatch(/this tab is in view/);
    machine.setVisible(false);
    expect(limits.getSnapshot().hold).toBeNull();
    machine.setVisible(true);
    expect(limits.getSnapshot().hold).toMatch(/this tab is in view/);
    limits.set({ onlyWhenAway: false });
    await expect.poll(() => limits.getSnapshot().hold).toBeNull();
    expect(limits.getSnapshot().presence).toBeNull();
  });

  it('names the battery first when both hold, and remembers every change made', async () => {
    const machine = fakeMachine();
    const limits = await started(machine, { onlyWhenAway: true });
    machine.battery.set(0.1, false);
    expect(limits.getSnapshot().hold).toBe('on battery at 10%');
    limits.set({ cpu: 70 });
    expect(JSON.parse(machine.saved.at(-1)!)).toEqual({ ...DEFAULT_LIMITS, onlyWhenAway: true, cpu: 70 });
  });

  it('says when the browser reports no pressure and no battery', async () => {
    const machine = fakeMachine();
    const limits = new Limits({ ...machine.env, getBattery: null, pressure: null }, DEFAULT_LIMITS);
    await limits.start();
    expect(limits.getSnapshot()).toMatchObject({ battery: null, pressure: null, pressureSupported: false });
    expect(limits.share()).toBeCloseTo(0.5);
  });
});
