import { memo, useMemo } from 'react';
import type uPlot from 'uplot';
import { chartOptions, colorAt, line, xAxis, X_LABELS, yAxis } from './chartOptions.js';
import { H, type DashboardState } from './DashboardStore.js';
import { Panel } from './Panel.js';
import { UPlotChart } from './UPlotChart.js';
import { MAX_WORKER_LINES, type WorkerRates } from './WorkerRates.js';

const CHART_HEIGHT = 200;

interface ThroughputProps {
  readonly history: DashboardState['history'];
  readonly workerRates: WorkerRates;
  /** The lines of `workerRates` (changes when a worker gets or loses its own line). */
  readonly workerLinesKey: string;
  readonly revision: number;
}

/** How fast: examples/s and pushes/s of the whole run, and examples/s of each worker, over time. */
export const ThroughputCharts = memo(function ThroughputCharts({
  history,
  workerRates,
  workerLinesKey,
  revision,
}: ThroughputProps) {
  const totalOptions = useMemo(
    () =>
      chartOptions({
        xLabel: X_LABELS.time,
        series: [
          line('examples/s', colorAt(0), { width: 2 }),
          line('accepted pushes/s', colorAt(1), { scale: 'pushes', dash: [5, 3] }),
        ],
        axes: [xAxis('time'), yAxis('examples/s'), yAxis('pushes/s', { scale: 'pushes', side: 1 })],
        scales: { y: { range: zeroBased }, pushes: { range: zeroBased } },
      }),
    [],
  );
  const c = history.columns;
  const totalData = useMemo<uPlot.AlignedData>(
    () => [c[H.t] as number[], c[H.examplesPerSec], c[H.pushesPerSec]],
    [c],
  );

  const perWorkerOptions = useMemo(
    () =>
      chartOptions({
        xLabel: X_LABELS.time,
        series: [
          ...workerRates.shown.map((w, i) => line(w.label, colorAt(i))),
          ...(workerRates.showsOthers ? [line('others (mean per worker)', '#6b7280', { dash: [4, 3] })] : []),
        ],
        axes: [xAxis('time'), yAxis('examples/s')],
        scales: { y: { range: zeroBased } },
      }),
    // The WorkerRates object is appended in place; workerLinesKey says when its set of lines changed.
    [workerRates, workerLinesKey],
  );
  const perWorkerData = useMemo<uPlot.AlignedData>(
    () => workerRates.columns as uPlot.AlignedData,
    [workerRates, workerLinesKey],
  );
  const hasRates = history.length > 1;
  const hasWorkers = workerRates.t.length > 1 && workerRates.shown.length > 0;
  return (
    <>
      <Panel
        id="throughput"
        title="Throughput"
        note="Training examples and accepted gradient pushes per second, all workers together."
        ready={hasRates}
        empty={hasRates ? null : 'Waiting for the second sample.'}
      >
        <UPlotChart
          options={totalOptions}
          data={totalData}
          revision={revision}
          height={CHART_HEIGHT}
          label="Examples per second and pushes per second over time"
        />
      </Panel>
      <Panel
        id="worker-rates"
        title="Examples/s per worker"
        note={`Since this page was opened. Up to ${MAX_WORKER_LINES} workers get a line of their own; the others share one: their mean.`}
        ready={hasWorkers}
        empty={hasWorkers ? null : 'No worker has trained while this page was open yet.'}
      >
        <UPlotChart
          options={perWorkerOptions}
          data={perWorkerData}
          revision={revision}
          height={CHART_HEIGHT}
          label="Examples per second of each worker over time"
        />
      </Panel>
    </>
  );
});

/** Rates start at zero: an axis that starts at 840 makes a 2 % wobble look like a collapse. */
function zeroBased(_u: uPlot, _min: number, max: number): uPlot.Range.MinMax {
  return [0, max > 0 ? max * 1.1 : 1];
}
