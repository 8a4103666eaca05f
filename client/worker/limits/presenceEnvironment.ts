import type { IdleDetectorLike, IdlePermission, PresenceEnvironment } from './presence.js';

interface IdleDetectorClass {
  new (): IdleDetectorLike;
  requestPermission(): Promise<IdlePermission>;
}

function idleDetectorClass(): IdleDetectorClass | null {
  return (globalThis as { IdleDetector?: IdleDetectorClass }).IdleDetector ?? null;
}

/** The browser's side of presence.ts: IdleDetector where it exists, the document's visibility. */
export function browserPresence(): PresenceEnvironment {
  const IdleDetector = idleDetectorClass();
  return {
    idle:
      IdleDetector === null
        ? null
        : {
            permission: async () => {
              const status = await navigator.permissions.query({
                name: 'idle-detection' as PermissionName,
              });
              return status.state;
            },
            create: () => new IdleDetector(),
          },
    visibility: {
      visible: () => document.visibilityState === 'visible',
      onChange: (listener) => {
        document.addEventListener('visibilitychange', listener);
        return () => document.removeEventListener('visibilitychange', listener);
      },
    },
  };
}

/**
 * Asks for the Idle Detection permission; must run in a click's handler (the API asks for a user
 * gesture). Resolves to whether it was granted; false where there is no such API.
 */
export async function requestIdlePermission(): Promise<boolean> {
  const IdleDetector = idleDetectorClass();
  if (IdleDetector === null) return false;
  try {
    return (await IdleDetector.requestPermission()) === 'granted';
  } catch {
    return false;
  }
}
