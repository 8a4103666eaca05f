import type { Socket } from 'socket.io-client';
import type {
  AdminAction,
  AdminActionReply,
  AdminActionType,
  AdminErrorBody,
} from '../../shared/adminActions.js';
import type {
  DashboardClientEvents,
  DashboardRole,
  DashboardServerEvents,
} from '../../shared/dashboardProtocol.js';

type DashboardSocket = Socket<DashboardServerEvents, DashboardClientEvents>;

/**
 * What this page may do: `unknown` until the hub says, `viewer` (read-only), `admin` (the hub accepted
 * its token), `refused` (it offered a token and the hub refused it).
 */
export type AdminRole = 'unknown' | 'viewer' | 'admin' | 'refused';

/** A refusal from the hub, or no answer at all (the hub is gone or slow). */
export interface ActionRefusal {
  readonly ok: false;
  readonly error: AdminErrorBody | { readonly code: 'NO_ANSWER'; readonly message: string };
}
export type ActionReply<T extends AdminActionType> = AdminActionReply<T> | ActionRefusal;

/** "Checkpoint now" measures the weights on the test set before it writes; reset builds new ones. */
const ACTION_TIMEOUT_MS = 30_000;

/**
 * The page's side of the admin channel: holds the token, learns the role from the hub
 * (`dashboard:role`, on every connect) and sends actions over the dashboard socket. A small external
 * store, so that React re-renders when the role changes.
 */
export class AdminLink {
  private role: AdminRole = 'unknown';
  private socket: DashboardSocket | null = null;
  private readonly listeners = new Set<() => void>();

  /**
   * @param token from the `#admin=` link (or this tab's storage); null for a viewer.
   * @param onRefused called when the hub refuses the token (the page forgets it).
   */
  constructor(
    readonly token: string | null,
    private readonly onRefused: () => void = () => undefined,
  ) {}

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): AdminRole => this.role;

  /** The socket actions go out on (null once it is closed). */
  bind(socket: DashboardSocket | null): void {
    this.socket = socket;
  }

  setRole(role: DashboardRole): void {
    const next: AdminRole = role.admin ? 'admin' : role.tokenRefused ? 'refused' : 'viewer';
    if (next === 'refused') this.onRefused();
    if (next === this.role) return;
    this.role = next;
    for (const listener of this.listeners) listener();
  }

  /** Sends one action; resolves with the hub's answer, or NO_ANSWER. Never rejects. */
  async act<T extends AdminActionType>(action: Extract<AdminAction, { type: T }>): Promise<ActionReply<T>> {
    const socket = this.socket;
    if (socket === null || !socket.connected) {
      return { ok: false, error: { code: 'NO_ANSWER', message: 'not connected to the hub' } };
    }
    try {
      // The hub answers each action with that action's result (AdminActionResults[T]).
      return (await socket.timeout(ACTION_TIMEOUT_MS).emitWithAck('admin:action', action)) as ActionReply<T>;
    } catch {
      return {
        ok: false,
        error: { code: 'NO_ANSWER', message: `no answer from the hub within ${ACTION_TIMEOUT_MS / 1000} s` },
      };
    }
  }
}
