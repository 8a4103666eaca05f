import { useEffect, useSyncExternalStore } from 'react';
import { io, type Socket } from 'socket.io-client';
import {
  DASHBOARD_NAMESPACE,
  type DashboardClientEvents,
  type DashboardServerEvents,
} from '../../shared/dashboardProtocol.js';
import type { DashboardState, DashboardStore } from './DashboardStore.js';

type DashboardSocket = Socket<DashboardServerEvents, DashboardClientEvents>;

/**
 * Connects `store` to the hub's read-only dashboard namespace (this page's origin: the hub serves it,
 * or Vite proxies to the hub). socket.io reconnects by itself; the hub then sends the whole history
 * again, which replaces what the store held. Returns the disconnect.
 */
export function connectDashboard(store: DashboardStore, origin = window.location.origin): () => void {
  // Websocket only: polling would carry the binary images as base64.
  const socket: DashboardSocket = io(`${origin}${DASHBOARD_NAMESPACE}`, { transports: ['websocket'] });
  socket.on('dashboard:history', (history) => store.applyHistory(history));
  socket.on('dashboard:update', (update) => store.applyUpdate(update));
  socket.on('disconnect', () => store.setConnection('reconnecting'));
  socket.on('connect_error', () => store.setConnection('reconnecting'));
  return () => {
    socket.disconnect();
  };
}

/** The dashboard's state, live: connects while the calling component is mounted. */
export function useDashboardFeed(store: DashboardStore): DashboardState {
  useEffect(() => connectDashboard(store), [store]);
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
