import { describe, expect, it } from 'vitest';
import { BatteryRule, watchBattery, type BatteryLike, type BatteryReading } from './battery.js';

const discharging = (percent: number): BatteryReading => ({ level: percent / 100, charging: false });
const charging = (percent: number): BatteryReading => ({ level: percent / 100, charging: true });

describe('BatteryRule', () => {
  it('pauses below the level while discharging and resumes 10 points higher, not before', () => {
    const rule = new BatteryRule(20);
    expect(rule.update(discharging(50))).toBeNull();
    expect(rule.update(discharging(20))).toBeNull();
    expect(rule.update(discharging(19))).toBe('on battery at 19%');
    expect(rule.update(discharging(15))).toBe('on battery at 15%');
    // Wavering back over the level does not resume: that needs the charger, or 30%.
    expect(rule.update(discharging(21))).toBe('on battery at 21%');
    expect(rule.update(discharging(29))).toBe('on battery at 29%');
    expect(rule.update(discharging(30))).toBeNull();
    expect(rule.update(discharging(25))).toBeNull();
  });

  it('resumes as soon as the charger is in, and pauses again when it is pulled', () => {
    const rule = new BatteryRule(20);
    expect(rule.update(discharging(12))).toBe('on battery at 12%');
    expect(rule.update(charging(12))).toBeNull();
    expect(rule.update(charging(5))).toBeNull();
    expect(rule.update(discharging(13))).toBe('on battery at 13%');
  });

  it('never pauses when switched off', () => {
    const rule = new BatteryRule(null);
    expect(rule.update(discharging(1))).toBeNull();
  });
});

/** A BatteryManager as the browser's: fields that change, then events. */
class FakeBattery extends EventTarget implements BatteryLike {
  level = 0.8;
  charging = true;
  set(level: number, isCharging: boolean): void {
    const chargingChanged = isCharging !== this.charging;
    this.level = level;
    this.charging = isCharging;
    this.dispatchEvent(new Event(chargingChanged ? 'chargingchange' : 'levelchange'));
  }
}

describe('watchBattery', () => {
  it('reads the battery at once and at every level and charging change, until stopped', async () => {
    const battery = new FakeBattery();
    const readings: BatteryReading[] = [];
    const stop = await watchBattery(
      async () => battery,
      (r) => readings.push(r),
    );
    battery.set(0.5, false);
    battery.set(0.49, false);
    stop?.();
    battery.set(0.48, false);
    expect(readings).toEqual([
      { level: 0.8, charging: true },
      { level: 0.5, charging: false },
      { level: 0.49, charging: false },
    ]);
  });

  it('gives null where there is no battery API, or it refuses', async () => {
    expect(await watchBattery(null, () => undefined)).toBeNull();
    expect(
      await watchBattery(
        () => Promise.reject(new Error('not allowed')),
        () => undefined,
      ),
    ).toBeNull();
  });
});
