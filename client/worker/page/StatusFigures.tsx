import { describeAdapter } from '../backends.js';
import type { Phase, WorkerView } from '../workerView.js';

const PHASE_LABEL: Record<Phase, string> = {
  starting: 'starting',
  probing: 'measuring backends',
  connecting: 'connecting',
  training: 'connected, training',
  paused: 'paused',
  held: 'paused',
  frozen: 'frozen by the browser',
  reconnecting: 'disconnected, retrying',
  failed: 'stopped',
  left: 'left',
};

/** One line on the connection: "paused: on battery at 15%" for a limit, else the phase and its detail. */
export function phaseLine(view: WorkerView): string {
  if (view.phase === 'held') return `paused: ${view.detail}`;
  const as = view.workerId ? ` as ${view.workerId}` : '';
  return `${PHASE_LABEL[view.phase]}${as}`;
}

/** The tab's figures: connection, backend, run, steps, speed, loss. */
export function StatusFigures({ view }: { view: WorkerView }) {
  return (
    <dl className="figures">
      <dt>Connection</dt>
      <dd data-testid="phase" className={`phase phase-${view.phase}`}>
        {phaseLine(view)}
        {view.detail && view.phase !== 'training' && view.phase !== 'held' ? (
          <span className="detail"> ({view.detail})</span>
        ) : null}
      </dd>
      <dt>Backend</dt>
      <dd data-testid="backend">
        {view.backendDetail ?? view.backend ?? '(choosing)'}
        {view.choice === 'auto'
          ? ''
          : view.backend === view.choice
            ? ` (forced by ?backend=${view.choice})`
            : ''}
        {view.choice !== 'auto' && view.failedBackends.includes(view.choice)
          ? ` (?backend=${view.choice} asked for ${view.choice}, which failed)`
          : ''}
      </dd>
      {view.adapter ? (
        <>
          <dt>GPU adapter</dt>
          <dd data-testid="adapter">{describeAdapter(view.adapter)}</dd>
        </>
      ) : null}
      <dt>Run</dt>
      <dd>
        {view.run
          ? `${view.run.model} (${view.run.params.toLocaleString('en')} parameters), ${view.run.mode} mode, batch ${view.run.batchSize}`
          : '-'}
      </dd>
      <dt>Steps</dt>
      <dd data-testid="steps">
        {view.steps.toLocaleString('en')}
        {view.globalStep !== null ? ` (hub step ${view.globalStep.toLocaleString('en')})` : ''}
        {view.refused > 0 ? `, ${view.refused} refused` : ''}
      </dd>
      {view.lastChange ? (
        <>
          <dt>Local round</dt>
          <dd data-testid="local-round">
            {`${view.lastChange.localSteps} inner steps per change (${view.lastChange.overlapSteps} while the last one was sent), change norm ${view.lastChange.changeNorm.toFixed(3)}`}
          </dd>
        </>
      ) : null}
      <dt>Examples/s</dt>
      <dd data-testid="rate">{view.examplesPerSec.toFixed(0)}</dd>
      <dt>Last loss</dt>
      <dd data-testid="loss">{view.loss === null ? '-' : view.loss.toFixed(4)}</dd>
    </dl>
  );
}
