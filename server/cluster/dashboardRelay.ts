import { deserialize, serialize } from 'node:v8';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Server } from 'socket.io';
import {
  DASHBOARD_NAMESPACE,
  type DashboardClientEvents,
  type DashboardHistory,
  type DashboardServerEvents,
} from '../../shared/dashboardProtocol.js';
import { ErrorCode } from '../../shared/errors.js';
import type { DashboardBroadcast, DashboardFeed } from '../dashboard/DashboardFeed.js';
import { dashboardHistorySubject, dashboardSubject } from './subjects.js';

/**
 * The coordinator's dashboard on every gateway: the coordinator publishes what it sends its own
 * viewers (`onBroadcast`) on NATS, and answers a gateway's request for the whole history; a gateway
 * hands both to the viewers of its own `/dashboard` namespace, so the dashboard of any gateway shows
 * the whole cluster. Messages are Node's structured-clone serialization (node:v8): the payloads hold
 * Uint8Array images, and both ends are Node processes of this project.
 */

/** Coordinator side. Returns a function that stops publishing. */
export function publishDashboard(options: {
  readonly connection: NatsConnection;
  readonly feed: DashboardFeed;
  readonly subjectPrefix: string;
  readonly onError: (error: unknown) => void;
}): () => Promise<void> {
  const { connection, feed, subjectPrefix, onError } = options;
  const subject = dashboardSubject(subjectPrefix);
  const unsubscribe = feed.onBroadcast((broadcast) => {
    try {
      connection.publish(subject, serialize(broadcast));
    } catch (error) {
      onError(error);
    }
  });
  const requests = connection.subscribe(dashboardHistorySubject(subjectPrefix), {
    callback: (error, msg) => {
      if (error) return onError(error);
      try {
        msg.respond(serialize(feed.wholeHistory()));
      } catch (failure) {
        onError(failure);
      }
    },
  });
  return async () => {
    unsubscribe();
    if (!requests.isClosed()) await requests.drain();
  };
}

/** How long a gateway's new viewer waits for the coordinator's history. */
const HISTORY_TIMEOUT_MS = 10_000;

/** Gateway side: serves `/dashboard` on `io` from the coordinator's feed. Returns a function that stops. */
export function relayDashboard(options: {
  readonly io: Server;
  readonly connection: NatsConnection;
  readonly subjectPrefix: string;
  readonly onError: (error: unknown) => void;
}): () => Promise<void> {
  const { io, connection, subjectPrefix, onError } = options;
  const namespace = io.of(DASHBOARD_NAMESPACE) as unknown as ReturnType<
    Server<DashboardClientEvents, DashboardServerEvents>['of']
  >;
  namespace.on('connection', (socket) => {
    // Run control stays on the coordinator's own dashboard: here every viewer is read-only.
    socket.emit('dashboard:role', { admin: false });
    socket.on('admin:action', (_action, ack) => {
      if (typeof ack !== 'function') return;
      ack({
        ok: false,
        error: {
          code: ErrorCode.AdminRequired,
          message: "this is a gateway: change the run from the coordinator's dashboard",
        },
      });
    });
    connection
      .request(dashboardHistorySubject(subjectPrefix), new Uint8Array(0), { timeout: HISTORY_TIMEOUT_MS })
      .then((reply) => socket.emit('dashboard:history', deserialize(reply.data) as DashboardHistory))
      .catch(onError);
  });
  const broadcasts: Subscription = connection.subscribe(dashboardSubject(subjectPrefix), {
    callback: (error, msg) => {
      if (error) return onError(error);
      try {
        const broadcast = deserialize(msg.data) as DashboardBroadcast;
        // As the coordinator does: a viewer that cannot keep up skips updates instead of queueing them.
        if (broadcast.event === 'dashboard:update')
          namespace.volatile.emit(broadcast.event, broadcast.payload);
        else namespace.emit(broadcast.event, broadcast.payload);
      } catch (failure) {
        onError(failure);
      }
    },
  });
  return async () => {
    if (!broadcasts.isClosed()) await broadcasts.drain();
    namespace.disconnectSockets(true);
  };
}
