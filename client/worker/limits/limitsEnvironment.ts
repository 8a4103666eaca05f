import { browserGetBattery } from './battery.js';
import type { LimitsEnvironment } from './Limits.js';
import { browserPresence } from './presenceEnvironment.js';
import { browserPressureObserver } from './pressure.js';
import { browserStorage } from './settings.js';

/** The limits' view of this browser: each API where it exists, nothing where it does not. */
export function browserLimitsEnvironment(): LimitsEnvironment {
  return {
    getBattery: browserGetBattery(),
    pressure: browserPressureObserver(),
    presence: browserPresence(),
    storage: browserStorage(),
  };
}
