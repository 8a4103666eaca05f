import { useCallback, useEffect, useState } from 'react';
import type { TrainingMode } from '../../shared/protocol.js';

/** The settings an admin can change, as the hub has them now. */
export interface RunControls {
  readonly paused: boolean;
  readonly mode: TrainingMode;
  readonly learningRate: number;
}

/** Someone else (another admin tab, `curl /api/admin/*`) may change the run too: look again this often. */
const POLL_MS = 3_000;

/**
 * The run's current controls from GET /api/status (the dashboard feed does not carry `paused`), read
 * when the admin panel opens, every few seconds while the tab is visible, and on `refresh()` (after
 * each action). Null until the first answer.
 */
export function useRunControls(): { controls: RunControls | null; refresh: () => void } {
  const [controls, setControls] = useState<RunControls | null>(null);
  const [asked, setAsked] = useState(0);
  const refresh = useCallback(() => setAsked((n) => n + 1), []);
  useEffect(() => {
    let live = true;
    const read = async () => {
      if (document.hidden) return;
      try {
        const response = await fetch('/api/status', { cache: 'no-store' });
        if (!response.ok) return;
        const { paused, mode, learningRate } = (await response.json()) as RunControls;
        if (live) setControls({ paused, mode, learningRate });
      } catch {
        // The hub is unreachable: the connection badge says so; keep what was last known.
      }
    };
    void read();
    const timer = setInterval(() => void read(), POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [asked]);
  return { controls, refresh };
}
