import { describe, expect, it } from 'vitest';
import {
  IDLE_THRESHOLD_MS,
  presenceHold,
  watchPresence,
  type IdleDetectorLike,
  type IdlePermission,
  type Presence,
  type PresenceEnvironment,
} from './presence.js';

describe('presenceHold', () => {
  it('holds while the person is active at an unlocked screen', () => {
    expect(presenceHold({ source: 'idle-detector', userState: 'active', screenState: 'unlocked' })).toBe(
      'you are using the computer',
    );
    expect(presenceHold({ source: 'idle-detector', userState: 'idle', screenState: 'unlocked' })).toBeNull();
    expect(presenceHold({ source: 'idle-detector', userState: 'active', screenState: 'locked' })).toBeNull();
  });

  it('without idle detection, holds while this tab is in view', () => {
    expect(presenceHold({ source: 'visibility', visible: true })).toMatch(/this tab is in view/);
    expect(presenceHold({ source: 'visibility', visible: false })).toBeNull();
  });
});

class FakeIdleDetector extends EventTarget implements IdleDetectorLike {
  userState: 'active' | 'idle' | null = null;
  screenState: 'locked' | 'unlocked' | null = null;
  started: { threshold: number; signal: AbortSignal } | null = null;
  constructor(private readonly refuse = false) {
    super();
  }
  async start(options: { threshold: number; signal: AbortSignal }): Promise<void> {
    if (this.refuse) throw new DOMException('not allowed', 'NotAllowedError');
    this.started = options;
    this.userState = 'active';
    this.screenState = 'unlocked';
  }
  change(userState: 'active' | 'idle', screenState: 'locked' | 'unlocked'): void {
    this.userState = userState;
    this.screenState = screenState;
    this.dispatchEvent(new Event('change'));
  }
}

function environment(permission: IdlePermission | null, detector = new FakeIdleDetector()) {
  const page = { visible: true, listeners: new Set<() => void>() };
  const env: PresenceEnvironment = {
    idle: permission === null ? null : { permission: async () => permission, create: () => detector },
    visibility: {
      visible: () => page.visible,
      onChange: (listener) => {
        page.listeners.add(listener);
        return () => page.listeners.delete(listener);
      },
    },
  };
  const setVisible = (visible: boolean) => {
    page.visible = visible;
    for (const listener of page.listeners) listener();
  };
  return { env, detector, setVisible, page };
}

describe('watchPresence', () => {
  it('uses the Idle Detection API once permitted: active, idle, locked', async () => {
    const { env, detector } = environment('granted');
    const seen: Presence[] = [];
    const watching = await watchPresence(env, (p) => seen.push(p));
    expect(watching.source).toBe('idle-detector');
    expect(detector.started?.threshold).toBe(IDLE_THRESHOLD_MS);
    detector.change('idle', 'unlocked');
    detector.change('idle', 'locked');
    expect(seen.map(presenceHold)).toEqual(['you are using the computer', null, null]);
    watching.stop();
    expect(detector.started?.signal.aborted).toBe(true);
  });

  it('goes by visibility when idle detection is not permitted, missing, or refuses to start', async () => {
    for (const { env, setVisible, page } of [
      environment('prompt'),
      environment(null),
      environment('granted', new FakeIdleDetector(true)),
    ]) {
      const seen: Presence[] = [];
      const watching = await watchPresence(env, (p) => seen.push(p));
      expect(watching.source).toBe('visibility');
      setVisible(false);
      setVisible(true);
      watching.stop();
      setVisible(false);
      expect(seen).toEqual([
        { source: 'visibility', visible: true },
        { source: 'visibility', visible: false },
        { source: 'visibility', visible: true },
      ]);
      expect(page.listeners.size).toBe(0);
    }
  });
});
