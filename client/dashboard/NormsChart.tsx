import { memo, useMemo } from 'react';
import type uPlot from 'uplot';
import { chartOptions, colorAt, line, xAxis, X_LABELS, yAxis } from './chartOptions.js';
import { H, type DashboardState } from './DashboardStore.js';
import { Panel } from './Panel.js';
import { xColumn, type XKind } from './historyColumns.js';
import { UPlotChart } from './UPlotChart.js';

interface NormsProps {
  readonly tensors: readonly string[];
  readonly history: DashboardState['history'];
  readonly revision: number;
  readonly x: XKind;
}

/**
 * Ticks at 0 and at powers of ten within the scale (uPlot's own asinh ticks always add a negative one).
 */
function decades(_u: uPlot, _axis: number, min: number, max: number): number[] {
  const splits = min <= 0 ? [0] : [];
  // Below the linear threshold (0.01) ticks would crowd onto the 0 tick.
  for (let p = -2; p <= 6; p++) {
    const v = 10 ** p;
    if (v >= min && v <= max) splits.push(v);
  }
  return splits;
}

/**
 * The L2 norm of each weight tensor over the run. The y scale is asinh (linear near 0, logarithmic
 * beyond), so a bias that starts at exactly 0 and a kernel of norm 10 both stay readable.
 */
export const NormsChart = memo(function NormsChart({ tensors, history, revision, x }: NormsProps) {
  const options = useMemo(
    () =>
      chartOptions({
        xLabel: X_LABELS[x],
        series: tensors.map((name, i) => line(name, colorAt(i))),
        axes: [xAxis(x), { ...yAxis('L2 norm (log scale)'), splits: decades }],
        // From 0: padding below a norm of ~0 would only add a meaningless negative tick.
        scales: { y: { distr: 4, asinh: 0.01, range: (_u, _min, max) => [0, max > 0 ? max * 1.5 : 1] } },
      }),
    [tensors, x],
  );
  const c = history.columns;
  const xs = xColumn(history, x);
  const data = useMemo<uPlot.AlignedData>(
    () => [xs, ...tensors.map((_, i) => c[H.firstNorm + i])],
    [xs, c, tensors],
  );
  const ready = history.length > 0;
  return (
    <Panel
      id="norms"
      title="Weight norms"
      note="L2 norm of each tensor's weights (log scale, linear below 0.01): how each layer is moving."
      ready={ready}
      empty={ready ? null : 'No sample yet.'}
    >
      <UPlotChart
        options={options}
        data={data}
        revision={revision}
        height={220}
        label="L2 norm of each weight tensor"
      />
    </Panel>
  );
});
