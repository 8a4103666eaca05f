import type { ReactNode } from 'react';
import type { AdminActionType } from '../../shared/adminActions.js';
import type { ActionReply } from './AdminLink.js';
import type { ActionState } from './useAdminAction.js';

type Success<T extends AdminActionType> = Extract<ActionReply<T>, { ok: true }>;

/** The outcome of a control's last action, in words: what changed, or the hub's refusal. */
export function ActionOutcome<T extends AdminActionType>({
  state,
  describe,
}: {
  state: ActionState<T>;
  describe: (reply: Success<T>) => string;
}) {
  let content: ReactNode = null;
  let kind: 'idle' | 'pending' | 'ok' | 'refused' = 'idle';
  if (state.phase === 'pending') {
    kind = 'pending';
    content = 'sending…';
  } else if (state.phase === 'done' && state.reply.ok) {
    kind = 'ok';
    content = describe(state.reply as Success<T>);
  } else if (state.phase === 'done' && !state.reply.ok) {
    kind = 'refused';
    content = (
      <>
        <code>{state.reply.error.code}</code> {state.reply.error.message}
      </>
    );
  }
  // Always rendered, so that screen readers announce what arrives in it.
  return (
    <p className={`outcome ${kind}`} role="status" data-outcome={kind}>
      {content}
    </p>
  );
}
