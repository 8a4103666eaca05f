import type { TrainingMode } from '../../shared/protocol.js';
import { ActionOutcome } from './ActionOutcome.js';
import { useAdminAction, type AdminControlProps } from './useAdminAction.js';

/** What each mode does, in a few words (keyed by every mode: a new one fails the type check here). */
const MODES: Record<TrainingMode, string> = {
  async: 'each gradient applied on arrival',
  sync: 'one gradient per worker per step, averaged',
};

/** Async or sync training; the workers follow on their next pull. */
export function ModeControl({ link, controls, refresh, offline }: AdminControlProps) {
  const [state, send] = useAdminAction<'mode'>(link, refresh);
  return (
    <div className="control" data-control="mode">
      <h3>Mode</h3>
      <div className="segmented" role="group" aria-label="training mode">
        {(Object.keys(MODES) as TrainingMode[]).map((mode) => (
          <button
            key={mode}
            type="button"
            title={MODES[mode]}
            aria-pressed={controls?.mode === mode}
            disabled={controls === null || offline || state.phase === 'pending'}
            onClick={() => {
              if (controls?.mode !== mode) void send({ type: 'mode', mode });
            }}
          >
            {mode}
          </button>
        ))}
      </div>
      <ActionOutcome state={state} describe={(reply) => `Now ${reply.mode}: ${MODES[reply.mode]}.`} />
    </div>
  );
}
