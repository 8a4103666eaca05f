import { useState, type FormEvent } from 'react';
import { ActionOutcome } from './ActionOutcome.js';
import { formatConstant } from './format.js';
import { useAdminAction, type AdminControlProps } from './useAdminAction.js';

/** The learning rate every shard applies from its next update on. */
export function LearningRateControl({ link, controls, refresh, offline }: AdminControlProps) {
  const [state, send] = useAdminAction<'learning-rate'>(link, refresh);
  const [text, setText] = useState('');
  const rate = Number(text);
  const valid = text.trim() !== '' && Number.isFinite(rate) && rate > 0;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!valid) return;
    if ((await send({ type: 'learning-rate', learningRate: rate })).ok) setText('');
  };
  return (
    <div className="control" data-control="learning-rate">
      <h3>Learning rate</h3>
      <form className="row" onSubmit={(event) => void submit(event)}>
        <span className="current" data-testid="admin-learning-rate">
          {controls === null ? '-' : formatConstant(controls.learningRate)}
        </span>
        <input
          type="number"
          inputMode="decimal"
          min="0"
          step="any"
          placeholder="new rate"
          aria-label="new learning rate"
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" disabled={!valid || offline || state.phase === 'pending'}>
          Apply
        </button>
      </form>
      <ActionOutcome
        state={state}
        describe={(reply) => `Learning rate now ${formatConstant(reply.learningRate)}.`}
      />
    </div>
  );
}
