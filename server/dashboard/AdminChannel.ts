import type { Namespace, Server, Socket } from 'socket.io';
import { adminActionSchema, type AdminActionReply, type AdminErrorBody } from '../../shared/adminActions.js';
import {
  DASHBOARD_NAMESPACE,
  type DashboardAuth,
  type DashboardClientEvents,
  type DashboardServerEvents,
} from '../../shared/dashboardProtocol.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import { ConnectionLimits } from '../gateway/ConnectionLimits.js';
import { parseMessage } from '../gateway/parseMessage.js';
import { isAdminToken } from '../http/adminAuth.js';
import { performAdminAction, type RunControl } from '../http/runControl.js';

export interface AdminChannelOptions {
  /** The hub's admin token: a dashboard that offers it in its handshake may change the run. */
  readonly token: string;
  readonly control: RunControl;
  /** Internal errors are logged here and never sent to the dashboard. */
  readonly logError?: (message: string, error: unknown) => void;
}

type DashboardNamespace = Namespace<DashboardClientEvents, DashboardServerEvents>;
type DashboardSocket = Socket<DashboardClientEvents, DashboardServerEvents>;
type Reply = (reply: AdminActionReply) => void;

/** An operator clicks: a burst of this many actions a second is plenty; a flood is refused. */
const ACTIONS_PER_SECOND = 20;
/**
 * Actions a viewer (no admin token) may try per minute before its connection is closed. The admin is
 * not struck off: whoever holds the token may change the run anyway.
 */
const STRIKES_PER_MINUTE = 10;

/**
 * Run control over the dashboard socket. Every dashboard is told its role on connect
 * (`dashboard:role`): admin when its handshake carries the admin token (`auth: { adminToken }`), a
 * read-only viewer otherwise. `admin:action` passes, in this order: rate limit -> admin token ->
 * schema -> the action on `control`, and is always answered in its ack (or with `hub:error` when
 * there is none). Nothing a viewer sends is applied, and one that keeps trying is disconnected.
 */
export function attachAdminChannel(io: Server, options: AdminChannelOptions): void {
  // DashboardFeed serves the same namespace (io.of returns it); the hub's Server is typed with the
  // workers' event maps, this namespace has its own.
  const namespace = io.of(DASHBOARD_NAMESPACE) as unknown as DashboardNamespace;
  const limits = new ConnectionLimits({
    messagesPerSecond: ACTIONS_PER_SECOND,
    // Actions carry no binary payload: the byte budget is never consulted.
    bytesPerSecond: 1,
    strikesPerMinute: STRIKES_PER_MINUTE,
  });
  const logError =
    options.logError ?? ((message: string, error: unknown) => console.error(`hub: ${message}:`, error));
  namespace.on('connection', (socket) => {
    const offered = (socket.handshake.auth as DashboardAuth | undefined)?.adminToken;
    const admin = isAdminToken(options.token, offered);
    socket.emit('dashboard:role', offered === undefined || admin ? { admin } : { admin, tokenRefused: true });
    (socket as Socket).on('admin:action', (...args: unknown[]) => {
      void handleAction(socket, admin, args, { control: options.control, limits, logError });
    });
    socket.on('disconnect', () => void limits.forget(socket.id).catch(() => undefined));
  });
}

interface ActionDeps {
  readonly control: RunControl;
  readonly limits: ConnectionLimits;
  readonly logError: (message: string, error: unknown) => void;
}

/** Validates, acts and answers; never throws (a failure is an INTERNAL reply and a log line). */
async function handleAction(
  socket: DashboardSocket,
  admin: boolean,
  args: unknown[],
  deps: ActionDeps,
): Promise<void> {
  const ack = args.at(-1);
  const payload = typeof ack === 'function' ? args.slice(0, -1) : args;
  const reply: Reply =
    typeof ack === 'function'
      ? (ack as Reply)
      : (r) => {
          if (!r.ok) socket.emit('hub:error', { ...r.error, event: 'admin:action' });
        };
  let answer: AdminActionReply;
  try {
    answer = await check(socket, admin, payload, deps);
  } catch (error) {
    answer = { ok: false, error: sanitise(error, deps.logError) };
  }
  try {
    reply(answer);
    if (!admin) await strike(socket, deps.limits);
  } catch (error) {
    deps.logError('admin action reply failed', error);
  }
}

async function check(
  socket: DashboardSocket,
  admin: boolean,
  payload: readonly unknown[],
  deps: ActionDeps,
): Promise<AdminActionReply> {
  if (!(await deps.limits.admit(socket.id, 0))) {
    throw new HubError(ErrorCode.RateLimited, 'too many admin actions per second; slow down');
  }
  if (!admin) {
    throw new HubError(
      ErrorCode.AdminRequired,
      'this action changes the run: open the dashboard with the admin link the hub printed at start',
    );
  }
  if (payload.length !== 1) throw new HubError(ErrorCode.InvalidMessage, 'admin:action takes one payload');
  return performAdminAction(parseMessage(adminActionSchema, payload[0], 'admin:action'), deps.control);
}

/** One more action a viewer tried; past the budget the connection is closed. */
async function strike(socket: DashboardSocket, limits: ConnectionLimits): Promise<void> {
  if (!(await limits.strike(socket.id)) || !socket.connected) return;
  socket.emit('hub:error', {
    code: ErrorCode.TooManyStrikes,
    message: 'too many refused admin actions from this connection; it is closed',
    event: 'disconnect',
  });
  socket.disconnect(true);
}

function sanitise(error: unknown, logError: ActionDeps['logError']): AdminErrorBody {
  if (error instanceof HubError) return error.toBody();
  logError('admin action failed', error);
  return { code: ErrorCode.Internal, message: 'the action failed inside the hub; see the hub log' };
}
