import type { Limits } from '../limits/Limits.js';
import { searchWithout, type LimitSettings } from '../limits/settings.js';

/**
 * A limit changed on the page: apply and remember it, and take its parameter out of the address, so
 * that a reload keeps what the volunteer chose rather than what the link said (the link wins over
 * what is remembered).
 */
export function applyLimits(limits: Limits, patch: Partial<LimitSettings>): void {
  limits.set(patch);
  const keys = Object.keys(patch) as (keyof LimitSettings)[];
  const search = searchWithout(window.location.search, keys);
  if (search !== window.location.search) {
    window.history.replaceState(window.history.state, '', `${window.location.pathname}${search}`);
  }
}
