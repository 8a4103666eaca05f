import { useState } from 'react';
import type { DashboardUpdate } from '../../shared/dashboardProtocol.js';
import type { AdminLink } from './AdminLink.js';
import { AdminSection } from './AdminSection.js';
import type { Connection, DashboardStore } from './DashboardStore.js';
import { FilterGrid } from './FilterGrid.js';
import { HistogramGrid } from './HistogramGrid.js';
import { Leaderboard } from './Leaderboard.js';
import { NormsChart } from './NormsChart.js';
import { PredictionGrid } from './PredictionGrid.js';
import { RefusalsPanel } from './RefusalsPanel.js';
import { RoundsChart } from './RoundsChart.js';
import { RunSummary } from './RunSummary.js';
import { ShardsTable } from './ShardsTable.js';
import { StalenessChart } from './StalenessChart.js';
import { ThroughputCharts } from './ThroughputCharts.js';
import type { XKind } from './historyColumns.js';
import { TrainingCurves } from './TrainingCurves.js';
import { useDashboardFeed } from './useDashboardFeed.js';
import { VolunteersTable } from './VolunteersTable.js';

// Stable empty values, so memoised panels do not re-render before the first update.
const NO_WORKERS: DashboardUpdate['workers'] = [];
const NO_SHARDS: DashboardUpdate['shards'] = [];
const NO_EVENTS: DashboardUpdate['events'] = [];
const NO_COUNTS: readonly number[] = [];
const NO_REFUSALS: DashboardUpdate['refusals'] = {};

const CONNECTION_LABEL: Record<Connection, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'hub unreachable, retrying…',
};

/**
 * The whole page: is the model learning, how fast, who is helping, where the time goes; for the
 * operator (`admin`'s token accepted by the hub), the controls too.
 */
export function DashboardPage({ store, admin }: { store: DashboardStore; admin: AdminLink }) {
  const state = useDashboardFeed(store, admin);
  const [x, setX] = useState<XKind>('step');
  const { run, latest, revision } = state;
  return (
    <div className="dashboard">
      <header className="topbar">
        <h1>Training dashboard</h1>
        <span className={`connection ${state.connection}`} data-testid="connection">
          {CONNECTION_LABEL[state.connection]}
        </span>
        <div className="x-toggle" role="group" aria-label="x axis of the training curves">
          <span>x axis:</span>
          {(['step', 'time'] as const).map((kind) => (
            <button key={kind} type="button" aria-pressed={x === kind} onClick={() => setX(kind)}>
              {kind === 'step' ? 'global step' : 'time'}
            </button>
          ))}
        </div>
        <span className="links">
          <a
            href="/api/model/model.json"
            download="model.json"
            title="The current weights as a TF.js LayersModel: model.json + weights.bin (tf.loadLayersModel loads this URL)"
          >
            Download model
          </a>
          <a
            href="/api/model/weights.bin"
            download="weights.bin"
            title="The weights file model.json refers to"
          >
            (weights.bin)
          </a>
          <a className="join" href="/worker" target="_blank" rel="noopener">
            Open a worker tab
          </a>
        </span>
      </header>
      {run === null ? (
        <p className="waiting">Waiting for the hub’s history…</p>
      ) : (
        <RunSummary run={run} latest={latest} />
      )}
      <AdminSection link={admin} offline={state.connection !== 'live'} />
      {run === null ? null : (
        <>
          <div className="panels">
            <TrainingCurves history={state.history} revision={revision} x={x} />
            <ThroughputCharts
              history={state.history}
              workerRates={state.workerRates}
              workerLinesKey={state.workerRates.key}
              revision={revision}
            />
            <VolunteersTable
              mode={run.mode}
              workers={latest?.workers ?? NO_WORKERS}
              hubNow={state.hubNow}
              refusals={latest?.refusals ?? NO_REFUSALS}
              events={latest?.events ?? NO_EVENTS}
            />
            <Leaderboard />
            {run.mode === 'async' ? (
              <StalenessChart counts={latest?.staleness ?? NO_COUNTS} />
            ) : (
              <RoundsChart kind={run.mode} rounds={state.rounds} revision={revision} local={run.local} />
            )}
            <RefusalsPanel
              refusals={latest?.refusals ?? NO_REFUSALS}
              rates={state.refusalRates}
              ratesKey={state.refusalRates.key}
              revision={revision}
              ready={latest !== null}
            />
            <ShardsTable shards={latest?.shards ?? NO_SHARDS} />
            <FilterGrid filters={state.filters} />
            <PredictionGrid samples={state.samples} predictions={latest?.predictions ?? null} />
            <NormsChart tensors={run.tensors} history={state.history} revision={revision} x={x} />
            <HistogramGrid histograms={state.histograms} />
          </div>
        </>
      )}
    </div>
  );
}
