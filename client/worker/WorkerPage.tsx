import { useEffect, useSyncExternalStore } from 'react';
import { AccuracyChart } from './page/AccuracyChart.js';
import { ContributionPanel } from './page/ContributionPanel.js';
import { EventsLog } from './page/EventsLog.js';
import type { HubFeed } from './page/HubFeed.js';
import { LimitsPanel } from './page/LimitsPanel.js';
import { ProbeTable } from './page/ProbeTable.js';
import { StatusFigures } from './page/StatusFigures.js';
import type { VolunteerTab } from './volunteerTab.js';

/**
 * The worker tab, a page worth keeping open: what it does and sends, its own figures and a pause
 * button, the volunteer's limits, their contribution to the run and the run's accuracy.
 */
export function WorkerPage({ tab, feed, hubName }: { tab: VolunteerTab; feed: HubFeed; hubName: string }) {
  const { worker } = tab;
  const view = useSyncExternalStore(worker.subscribe, worker.getSnapshot);
  const hub = useSyncExternalStore(feed.subscribe, feed.getSnapshot);
  useEffect(() => feed.start(), [feed]);
  const canToggle = view.phase !== 'failed' && view.phase !== 'left';
  return (
    <main>
      <h1>Gradient worker</h1>
      <p className="lead" data-testid="lead">
        This tab trains a small neural network to read handwritten digits (the public MNIST set) for{' '}
        <strong>{hubName}</strong>. It sends only changes to the model&apos;s weights, nothing of yours; close
        it any time.
      </p>
      <StatusFigures view={view} />
      <button
        type="button"
        disabled={!canToggle}
        onClick={() => (view.phase === 'paused' ? worker.resume() : worker.pause())}
      >
        {view.phase === 'paused' ? 'Resume' : 'Pause'}
      </button>
      <div className="cards">
        <LimitsPanel limits={tab.limits} measured={tab.measuredShare()} />
        <ContributionPanel
          feed={hub}
          volunteer={view.volunteer}
          name={tab.displayName()}
          onName={(name) => tab.setDisplayName(name)}
        />
        <AccuracyChart points={hub.accuracy} />
      </div>
      {view.probe ? <ProbeTable figures={view.probe} chosen={view.backend} /> : null}
      <EventsLog view={view} />
    </main>
  );
}
