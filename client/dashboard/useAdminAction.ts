import { useCallback, useState } from 'react';
import type { AdminAction, AdminActionType } from '../../shared/adminActions.js';
import type { ActionReply, AdminLink } from './AdminLink.js';
import type { RunControls } from './useRunControls.js';

/** One control's last action: nothing yet, on its way, or the hub's answer. */
export type ActionState<T extends AdminActionType> =
  | { readonly phase: 'idle' }
  | { readonly phase: 'pending' }
  | { readonly phase: 'done'; readonly reply: ActionReply<T> };

/** Sends actions of one kind and keeps the last outcome; `onDone` runs after every answer. */
export function useAdminAction<T extends AdminActionType>(
  link: AdminLink,
  onDone: () => void,
): [ActionState<T>, (action: Extract<AdminAction, { type: T }>) => Promise<ActionReply<T>>] {
  const [state, setState] = useState<ActionState<T>>({ phase: 'idle' });
  const send = useCallback(
    async (action: Extract<AdminAction, { type: T }>) => {
      setState({ phase: 'pending' });
      const reply = await link.act<T>(action);
      setState({ phase: 'done', reply });
      onDone();
      return reply;
    },
    [link, onDone],
  );
  return [state, send];
}

/** What every control of the admin panel gets. */
export interface AdminControlProps {
  readonly link: AdminLink;
  /** The hub's current settings; null until read. */
  readonly controls: RunControls | null;
  /** Reads the settings again (after an action). */
  readonly refresh: () => void;
  /** The dashboard is not connected: actions could not go out. */
  readonly offline: boolean;
}
