/** What the Battery Status API says: level 0..1, and whether the charger is in. */
export interface BatteryReading {
  readonly level: number;
  readonly charging: boolean;
}

/** How much above the pause level the battery must be to resume without the charger. */
export const BATTERY_HYSTERESIS_PERCENT = 10;

/**
 * Pause on battery below a level, resume on charge, with hysteresis: paused below `pauseBelow`% while
 * discharging; resumed once charging or at `pauseBelow + 10`%. Without the gap a level that wavers
 * around the threshold (they do, by a percent) would leave and join the hub every few minutes.
 */
export class BatteryRule {
  private readonly pauseBelow: number;
  private paused = false;

  /** `pauseBelowPercent`: 1..99; null: never pause for the battery. */
  constructor(pauseBelowPercent: number | null) {
    this.pauseBelow = pauseBelowPercent ?? 0;
  }

  /** Why training must stop now (e.g. "on battery at 15%"), or null. */
  update(reading: BatteryReading): string | null {
    const percent = Math.round(reading.level * 100);
    if (reading.charging || percent >= this.pauseBelow + BATTERY_HYSTERESIS_PERCENT) this.paused = false;
    else if (percent < this.pauseBelow) this.paused = true;
    return this.paused ? `on battery at ${percent}%` : null;
  }
}

/** The part of BatteryManager used here (an EventTarget with these fields). */
export interface BatteryLike {
  readonly level: number;
  readonly charging: boolean;
  addEventListener(type: 'levelchange' | 'chargingchange', listener: () => void): void;
  removeEventListener(type: 'levelchange' | 'chargingchange', listener: () => void): void;
}

export type GetBattery = () => Promise<BatteryLike>;

/** `navigator.getBattery` where the browser has it (Chromium; not Firefox or Safari). */
export function browserGetBattery(): GetBattery | null {
  const nav = navigator as Navigator & { getBattery?: () => Promise<BatteryLike> };
  return typeof nav.getBattery === 'function' ? () => nav.getBattery!() : null;
}

/**
 * Calls `onReading` with the battery's state now and at every change. Resolves to a function that
 * stops watching, or null where there is no battery to watch (no API, or it refused).
 */
export async function watchBattery(
  getBattery: GetBattery | null,
  onReading: (reading: BatteryReading) => void,
): Promise<(() => void) | null> {
  if (getBattery === null) return null;
  let battery: BatteryLike;
  try {
    battery = await getBattery();
  } catch {
    return null;
  }
  const read = () => onReading({ level: battery.level, charging: battery.charging });
  battery.addEventListener('levelchange', read);
  battery.addEventListener('chargingchange', read);
  read();
  return () => {
    battery.removeEventListener('levelchange', read);
    battery.removeEventListener('chargingchange', read);
  };
}
