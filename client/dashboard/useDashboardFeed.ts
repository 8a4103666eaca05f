import { useEffect, useSyncExternalStore } from 'react';
import { io, type Socket } from 'socket.io-client';
import {
  DASHBOARD_NAMESPACE,
  type DashboardAuth,
  type DashboardClientEvents,
  type DashboardServerEvents,
} from '../../shared/dashboardProtocol.js';
import type { AdminLink } from './AdminLink.js';
import type { DashboardState, DashboardStore } from './DashboardStore.js';

type DashboardSocket = Socket<DashboardServerEvents, DashboardClientEvents>;

/**
 * Connects `store` to the hub's dashboard namespace (this page's origin: the hub serves it, or Vite
 * proxies to the hub). socket.io reconnects by itself; the hub then sends the whole history again,
 * which replaces what the store held. With `admin`, the handshake carries its token, the hub's answer
 * (`dashboard:role`) goes to it and its actions go out on this socket. Returns the disconnect.
 */
export function connectDashboard(
  store: DashboardStore,
  admin: AdminLink | null = null,
  origin = window.location.origin,
): () => void {
  const auth: DashboardAuth = admin?.token ? { adminToken: admin.token } : {};
  // Websocket only: polling would carry the binary images as base64.
  const socket: DashboardSocket = io(`${origin}${DASHBOARD_NAMESPACE}`, { transports: ['websocket'], auth });
  socket.on('dashboard:role', (role) => admin?.setRole(role));
  socket.on('dashboard:history', (history) => store.applyHistory(history));
  socket.on('dashboard:update', (update) => store.applyUpdate(update));
  socket.on('disconnect', () => store.setConnection('reconnecting'));
  socket.on('connect_error', () => store.setConnection('reconnecting'));
  admin?.bind(socket);
  return () => {
    admin?.bind(null);
    socket.disconnect();
  };
}

/** The dashboard's state, live: connects while the calling component is mounted. */
export function useDashboardFeed(store: DashboardStore, admin: AdminLink | null = null): DashboardState {
  useEffect(() => connectDashboard(store, admin), [store, admin]);
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
