/**
 * "Only while I'm not using the computer": whether the person is at the machine, from the Idle
 * Detection API where they allowed it (no input for a minute, or the screen locked), or else from
 * this page's visibility (the tab in view means they may be looking at it; hidden, they are elsewhere).
 */
export type Presence =
  | {
      readonly source: 'idle-detector';
      readonly userState: 'active' | 'idle';
      readonly screenState: 'locked' | 'unlocked';
    }
  | { readonly source: 'visibility'; readonly visible: boolean };

/** Why training must stop for the person's presence, or null. */
export function presenceHold(presence: Presence): string | null {
  if (presence.source === 'idle-detector') {
    return presence.userState === 'active' && presence.screenState === 'unlocked'
      ? 'you are using the computer'
      : null;
  }
  return presence.visible ? 'this tab is in view; it trains while you are elsewhere' : null;
}

/** The part of IdleDetector used here (not in TypeScript's DOM types). */
export interface IdleDetectorLike {
  readonly userState: 'active' | 'idle' | null;
  readonly screenState: 'locked' | 'unlocked' | null;
  start(options: { threshold: number; signal: AbortSignal }): Promise<void>;
  addEventListener(type: 'change', listener: () => void): void;
}

export type IdlePermission = 'granted' | 'denied' | 'prompt';

/** Where presence comes from: the browser (presenceEnvironment.ts) or a test's fakes. */
export interface PresenceEnvironment {
  /** Null where the browser has no Idle Detection API (or a policy forbids it here). */
  readonly idle: {
    permission(): Promise<IdlePermission>;
    create(): IdleDetectorLike;
  } | null;
  readonly visibility: {
    visible(): boolean;
    /** Calls `listener` at each change; returns the unsubscribe. */
    onChange(listener: () => void): () => void;
  };
}

/** The Idle Detection API's shortest threshold: a minute without input counts as away. */
export const IDLE_THRESHOLD_MS = 60_000;

/**
 * Calls `onPresence` now and at each change, from the Idle Detection API when permission was granted
 * (asking needs a click: requestIdlePermission in presenceEnvironment.ts), from visibility otherwise.
 * Returns what it watches and the function that stops it.
 */
export async function watchPresence(
  env: PresenceEnvironment,
  onPresence: (presence: Presence) => void,
): Promise<{ source: Presence['source']; stop: () => void }> {
  if (env.idle !== null && (await env.idle.permission().catch(() => 'denied' as const)) === 'granted') {
    const detector = env.idle.create();
    const controller = new AbortController();
    const read = () =>
      onPresence({
        source: 'idle-detector',
        userState: detector.userState ?? 'active',
        screenState: detector.screenState ?? 'unlocked',
      });
    detector.addEventListener('change', read);
    try {
      await detector.start({ threshold: IDLE_THRESHOLD_MS, signal: controller.signal });
      read();
      return { source: 'idle-detector', stop: () => controller.abort() };
    } catch {
      controller.abort();
      // Refused after all (a policy, a revoked permission): visibility it is.
    }
  }
  const read = () => onPresence({ source: 'visibility', visible: env.visibility.visible() });
  const stop = env.visibility.onChange(read);
  read();
  return { source: 'visibility', stop };
}
