/**
 * The identity the hub issued this browser, kept in localStorage per hub, so that a reload, a new
 * tab or a reconnect comes back as the same volunteer with the trust it earned (and not as a
 * newcomer on probation). Storage may be off (private windows, policies): then every page load is a
 * newcomer, which costs only that probation.
 */
const KEY_PREFIX = 'volunteer-identity:';

export function loadIdentity(hubUrl: string): string | undefined {
  try {
    return localStorage.getItem(KEY_PREFIX + hubUrl) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveIdentity(hubUrl: string, identity: string): void {
  try {
    localStorage.setItem(KEY_PREFIX + hubUrl, identity);
  } catch {
    // Storage is off: nothing to keep it in.
  }
}

/** Drops the identity kept for `hubUrl`: the next hello is a newcomer's (tests; the console). */
export function forgetIdentity(hubUrl: string): void {
  try {
    localStorage.removeItem(KEY_PREFIX + hubUrl);
  } catch {
    // Storage is off: nothing was kept.
  }
}
