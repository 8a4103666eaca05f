import { ActionOutcome } from './ActionOutcome.js';
import { formatInteger } from './format.js';
import { useAdminAction, type AdminControlProps } from './useAdminAction.js';

/** Writes a checkpoint of the whole run now and says where. */
export function CheckpointControl({ link, refresh, offline }: AdminControlProps) {
  const [state, send] = useAdminAction<'checkpoint'>(link, refresh);
  return (
    <div className="control" data-control="checkpoint">
      <h3>Checkpoint</h3>
      <div className="row">
        <button
          type="button"
          disabled={offline || state.phase === 'pending'}
          onClick={() => void send({ type: 'checkpoint' })}
        >
          Checkpoint now
        </button>
      </div>
      <ActionOutcome
        state={state}
        describe={(reply) => `Wrote ${reply.file} (step ${formatInteger(reply.globalStep)}).`}
      />
    </div>
  );
}
