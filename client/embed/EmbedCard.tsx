import { useState, useSyncExternalStore } from 'react';
import {
  browserStorage,
  limitsFromQuery,
  rememberedLimits,
  rememberLimits,
  resolveLimits,
} from '../worker/limits/settings.js';
import { CpuControl } from '../worker/page/CpuControl.js';
import type { VolunteerTab } from '../worker/volunteerTab.js';
import type { WorkerView } from '../worker/workerView.js';

declare global {
  interface Window {
    /** For the end-to-end tests: whether the visitor has started training. */
    __embed?: { started: boolean };
  }
}

/** The "help train" card: what it does, the cpu limit, a start button, a link to the full page. */
export function EmbedCard({ hubUrl, hubName }: { hubUrl: string; hubName: string }) {
  const [settings] = useState(() =>
    resolveLimits(rememberedLimits(browserStorage()), limitsFromQuery(window.location.search).limits),
  );
  const [cpu, setCpu] = useState(settings.cpu);
  const [tab, setTab] = useState<VolunteerTab | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const changeCpu = (next: number) => {
    setCpu(next);
    if (tab) tab.limits.set({ cpu: next });
    // Not started: remembered for the click (and the next visit), nothing else of the link's kept.
    else rememberLimits(browserStorage(), resolveLimits(rememberedLimits(browserStorage()), { cpu: next }));
  };
  const start = async () => {
    window.__embed = { started: true };
    try {
      const { startTraining } = await import('./startTraining.js');
      setTab(startTraining(hubUrl, cpu));
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    }
  };

  return (
    <main className="card">
      <h1>Help train a model</h1>
      <p className="what">
        Lend this browser&apos;s spare time to a neural network learning to read handwritten digits (public
        MNIST data) for <strong>{hubName}</strong>. It sends only changes to the model&apos;s weights, nothing
        of yours, and starts only when you click.
      </p>
      <CpuControl cpu={cpu} onChange={changeCpu} />
      {tab ? (
        <Running tab={tab} />
      ) : (
        <button type="button" className="start" data-testid="start" onClick={() => void start()}>
          Start helping
        </button>
      )}
      {problem ? <p className="error">This browser cannot train: {problem}</p> : null}
      <p className="links">
        <a href={`${hubUrl}/worker`} target="_blank" rel="noopener">
          Open the full worker page
        </a>{' '}
        for more limits and your contribution.
      </p>
    </main>
  );
}

function Running({ tab }: { tab: VolunteerTab }) {
  const view = useSyncExternalStore(tab.worker.subscribe, tab.worker.getSnapshot);
  const paused = view.phase === 'paused';
  return (
    <div className="running">
      <p className="status" data-testid="embed-status">
        {statusLine(view)}
      </p>
      <button type="button" onClick={() => (paused ? tab.worker.resume() : tab.worker.pause())}>
        {paused ? 'Resume' : 'Pause'}
      </button>
    </div>
  );
}

function statusLine(view: WorkerView): string {
  switch (view.phase) {
    case 'training':
      return `Training: ${view.examples.toLocaleString('en')} examples so far, ${view.examplesPerSec.toFixed(0)}/s. Thank you!`;
    case 'held':
      return `Paused: ${view.detail}`;
    case 'paused':
      return 'Paused.';
    case 'failed':
      return `Stopped: ${view.detail}`;
    case 'probing':
      return 'Measuring which backend is fastest here…';
    default:
      return 'Joining…';
  }
}
