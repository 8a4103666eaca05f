import { memo, useMemo } from 'react';
import type uPlot from 'uplot';
import { bars, chartOptions, colorAt, integerAxis, yAxis } from './chartOptions.js';
import { formatInteger } from './format.js';
import { Panel } from './Panel.js';
import { UPlotChart } from './UPlotChart.js';

interface StalenessProps {
  /** Applied pushes by staleness since the start; the last bucket counts that many or more. */
  readonly counts: readonly number[];
}

/** Async mode: how many shard updates behind the weights were that each applied gradient was computed on. */
export const StalenessChart = memo(function StalenessChart({ counts }: StalenessProps) {
  const last = counts.length - 1;
  const options = useMemo(
    () =>
      chartOptions({
        xLabel: 'staleness',
        series: [bars('applied pushes', colorAt(0))],
        axes: [
          integerAxis('staleness (updates behind)', (v) => (v === last ? `${v}+` : String(v))),
          yAxis('applied pushes'),
        ],
        scales: {
          x: { time: false, range: [-0.6, last + 0.6] },
          y: { range: (_u, _min, max) => [0, max * 1.1 || 1] },
        },
        legend: false,
      }),
    [last],
  );
  const data = useMemo<uPlot.AlignedData>(() => [counts.map((_, i) => i), [...counts]], [counts]);
  const total = counts.reduce((a, b) => a + b, 0);
  return (
    <Panel
      id="staleness"
      title="Staleness of applied gradients"
      note={
        total > 0
          ? `${formatInteger(total)} applied pushes; ${((100 * counts[0]) / total).toFixed(1)} % were computed on the latest weights (0), median staleness ${median(counts)}.`
          : 'Async mode: how many updates the weights had moved on since the worker pulled them.'
      }
      ready={total > 0}
      empty={total > 0 ? null : 'No gradient applied yet.'}
    >
      <UPlotChart options={options} data={data} revision={counts} height={200} label="Staleness histogram" />
    </Panel>
  );
});

/** The median bucket of a histogram of counts. */
function median(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen * 2 >= total) return i;
  }
  return counts.length - 1;
}
