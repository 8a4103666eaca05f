import type { TrainingMode } from '../../shared/protocol.js';
import { ActionOutcome } from './ActionOutcome.js';
import { MODE_SUMMARIES } from './modeDetail.js';
import { useAdminAction, type AdminControlProps } from './useAdminAction.js';

/** Async, sync or local training; the workers follow on their next pull. */
export function ModeControl({ link, controls, refresh, offline }: AdminControlProps) {
  const [state, send] = useAdminAction<'mode'>(link, refresh);
  return (
    <div className="control" data-control="mode">
      <h3>Mode</h3>
      <div className="segmented" role="group" aria-label="training mode">
        {/* Every mode (MODE_SUMMARIES is keyed by TrainingMode): TRAINING_MODES itself would bundle
            shared/protocol.ts, and with it zod and TF.js. */}
        {(Object.keys(MODE_SUMMARIES) as TrainingMode[]).map((mode) => (
          <button
            key={mode}
            type="button"
            title={MODE_SUMMARIES[mode]}
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
      <ActionOutcome
        state={state}
        describe={(reply) => `Now ${reply.mode}: ${MODE_SUMMARIES[reply.mode]}.`}
      />
    </div>
  );
}
