import { useState } from 'react';
import { ActionOutcome } from './ActionOutcome.js';
import { useAdminAction, type AdminControlProps } from './useAdminAction.js';

/** Starts the run over (fresh weights, step 0), after a second click that says what is lost. */
export function ResetControl({ link, refresh, offline }: AdminControlProps) {
  const [state, send] = useAdminAction<'reset'>(link, refresh);
  const [confirming, setConfirming] = useState(false);
  const pending = state.phase === 'pending';
  return (
    <div className="control" data-control="reset">
      <h3>Run</h3>
      {confirming ? (
        <div className="confirm" role="group" aria-label="confirm the reset">
          <p>Start over from fresh weights at step 0? The trained weights and the curves are lost.</p>
          <div className="row">
            <button
              type="button"
              className="danger"
              disabled={offline || pending}
              onClick={() => {
                setConfirming(false);
                void send({ type: 'reset' });
              }}
            >
              Yes, reset the run
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <div className="row">
          <button type="button" disabled={offline || pending} onClick={() => setConfirming(true)}>
            Reset run…
          </button>
        </div>
      )}
      <ActionOutcome state={state} describe={() => 'The run started over at step 0.'} />
    </div>
  );
}
