import { ActionOutcome } from './ActionOutcome.js';
import { useAdminAction, type AdminControlProps } from './useAdminAction.js';

/** Pause (workers wait, the weights stay) or resume training. */
export function PauseControl({ link, controls, refresh, offline }: AdminControlProps) {
  const [state, send] = useAdminAction<'pause' | 'resume'>(link, refresh);
  const paused = controls?.paused ?? false;
  return (
    <div className="control" data-control="pause">
      <h3>Training</h3>
      <div className="row">
        <span className={`current ${paused ? 'paused' : 'running'}`} data-testid="admin-paused">
          {controls === null ? '-' : paused ? 'paused' : 'running'}
        </span>
        <button
          type="button"
          className="primary"
          disabled={controls === null || offline || state.phase === 'pending'}
          onClick={() => void send({ type: paused ? 'resume' : 'pause' })}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <ActionOutcome
        state={state}
        describe={(reply) =>
          reply.paused
            ? 'Paused: workers wait, the weights stay as they are.'
            : 'Resumed: workers train again.'
        }
      />
    </div>
  );
}
