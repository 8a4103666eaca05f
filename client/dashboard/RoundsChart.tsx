import { memo, useMemo } from 'react';
import uPlot from 'uplot';
import { chartOptions, colorAt, line, xAxis, X_LABELS, yAxis } from './chartOptions.js';
import type { RoundColumns } from './DashboardStore.js';
import { Panel } from './Panel.js';
import { UPlotChart } from './UPlotChart.js';

interface RoundsProps {
  readonly rounds: RoundColumns;
  readonly revision: number;
}

/** Sync mode: how long each round took and how many gradients it averaged. */
export const RoundsChart = memo(function RoundsChart({ rounds, revision }: RoundsProps) {
  const options = useMemo(
    () =>
      chartOptions({
        xLabel: X_LABELS.round,
        series: [
          line('round time (ms)', colorAt(0), { width: 1.5 }),
          // A count per round: steps, not slopes between rounds.
          line('gradients aggregated', colorAt(1), {
            scale: 'gradients',
            width: 2,
            paths: uPlot.paths.stepped?.({ align: 1 }),
          }),
        ],
        axes: [xAxis('round'), yAxis('round time (ms)'), yAxis('gradients', { scale: 'gradients', side: 1 })],
        scales: {
          y: { range: (_u, _min, max) => [0, max * 1.1 || 1] },
          gradients: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.2))] },
        },
      }),
    [],
  );
  const c = rounds.columns;
  const data = useMemo<uPlot.AlignedData>(() => [c[0] as number[], c[1], c[2]], [c]);
  const ready = rounds.length > 0;
  return (
    <Panel
      id="rounds"
      title="Sync rounds"
      note="Each round waits for the workers' gradients (or its timeout), averages them and applies one update."
      ready={ready}
      empty={ready ? null : 'No round closed yet.'}
    >
      <UPlotChart
        options={options}
        data={data}
        revision={revision}
        height={200}
        label="Round time and gradients per round"
      />
    </Panel>
  );
});
