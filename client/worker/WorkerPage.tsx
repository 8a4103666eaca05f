import { useSyncExternalStore } from 'react';
import type { BrowserWorker, Phase, WorkerView } from './BrowserWorker.js';
import { describeAdapter } from './backends.js';
import type { ProbeFigure } from './probe.js';

const PHASE_LABEL: Record<Phase, string> = {
  starting: 'starting',
  probing: 'measuring backends',
  connecting: 'connecting',
  training: 'connected, training',
  paused: 'paused',
  frozen: 'frozen by the browser',
  reconnecting: 'disconnected, retrying',
  failed: 'stopped',
  left: 'left',
};

/** The worker tab: what it is doing, on what, how fast, and a pause button. */
export function WorkerPage({ worker, hubName }: { worker: BrowserWorker; hubName: string }) {
  const view = useSyncExternalStore(worker.subscribe, worker.getSnapshot);
  const canToggle = view.phase !== 'failed' && view.phase !== 'left';
  return (
    <main>
      <h1>Gradient worker</h1>
      <p className="lead">
        This tab is training an MNIST model for <strong>{hubName}</strong>; close it any time.
      </p>
      <dl className="figures">
        <dt>Connection</dt>
        <dd data-testid="phase" className={`phase phase-${view.phase}`}>
          {PHASE_LABEL[view.phase]}
          {view.workerId ? ` as ${view.workerId}` : ''}
          {view.detail && view.phase !== 'training' ? <span className="detail"> ({view.detail})</span> : null}
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
      <button
        type="button"
        disabled={!canToggle}
        onClick={() => (view.phase === 'paused' ? worker.resume() : worker.pause())}
      >
        {view.phase === 'paused' ? 'Resume' : 'Pause'}
      </button>
      {view.probe ? <ProbeTable figures={view.probe} chosen={view.backend} /> : null}
      <Events view={view} />
    </main>
  );
}

function ProbeTable({ figures, chosen }: { figures: readonly ProbeFigure[]; chosen: string | null }) {
  return (
    <section>
      <h2>Backend probe</h2>
      <table data-testid="probe">
        <thead>
          <tr>
            <th>backend</th>
            <th>ms/step</th>
            <th>examples/s</th>
            <th>first step</th>
            <th>outcome</th>
          </tr>
        </thead>
        <tbody>
          {figures.map((f) => (
            <tr key={f.backend} className={f.backend === chosen ? 'chosen' : undefined}>
              <td>{f.backend}</td>
              <td>{f.msPerStep === undefined ? '' : f.msPerStep.toFixed(0)}</td>
              <td>{f.examplesPerSec === undefined ? '' : f.examplesPerSec.toFixed(0)}</td>
              <td>{f.firstStepMs === undefined ? '' : `${f.firstStepMs.toFixed(0)} ms`}</td>
              <td>
                {f.outcome}
                {f.backend === chosen ? ' (in use)' : ''}
                {f.note ? <span className="detail"> {f.note}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Events({ view }: { view: WorkerView }) {
  const recent = view.events.slice(-8).reverse();
  return (
    <section>
      <h2>Log</h2>
      <ul className="events" data-testid="events">
        {recent.map((e, i) => (
          <li key={`${e.at}-${i}`}>
            <time>{new Date(e.at).toLocaleTimeString('en-GB')}</time> {e.text}
          </li>
        ))}
      </ul>
    </section>
  );
}
