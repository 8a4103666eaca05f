import { memo, useMemo } from 'react';
import type uPlot from 'uplot';
import { chartOptions, colorAt, line, xAxis, X_LABELS, yAxis } from './chartOptions.js';
import type { Column } from './columns.js';
import { H, type DashboardState } from './DashboardStore.js';
import { xColumn, type XKind } from './historyColumns.js';
import { Panel } from './Panel.js';
import { UPlotChart } from './UPlotChart.js';

function hasValue(column: Column): boolean {
  for (let i = column.length - 1; i >= 0; i--) if (column[i] !== null) return true;
  return false;
}

interface CurvesProps {
  readonly history: DashboardState['history'];
  readonly revision: number;
  readonly x: XKind;
}

const CHART_HEIGHT = 220;

/** Is the model learning: train and test loss, and test accuracy, against global step or time. */
export const TrainingCurves = memo(function TrainingCurves({ history, revision, x }: CurvesProps) {
  const lossOptions = useMemo(
    () =>
      chartOptions({
        xLabel: X_LABELS[x],
        series: [
          line('train loss (moving average)', colorAt(0)),
          line('test loss', colorAt(1), { width: 2 }),
        ],
        axes: [xAxis(x), yAxis('cross-entropy (nats)')],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(max, 0.1)] } },
      }),
    [x],
  );
  const accuracyOptions = useMemo(
    () =>
      chartOptions({
        xLabel: X_LABELS[x],
        series: [line('test accuracy', colorAt(2), { width: 2 })],
        axes: [xAxis(x), yAxis('test accuracy (%)')],
        scales: { y: { range: (_u, min) => [Math.max(0, Math.floor(Math.min(min, 90) / 10) * 10), 100] } },
      }),
    [x],
  );
  const c = history.columns;
  const xs = xColumn(history, x);
  const lossData = useMemo<uPlot.AlignedData>(() => [xs, c[H.trainLoss], c[H.testLoss]], [xs, c]);
  const accuracyData = useMemo<uPlot.AlignedData>(() => [xs, c[H.testAccuracy]], [xs, c]);
  const hasLoss = history.length > 0 && hasValue(c[H.trainLoss]);
  const hasAccuracy = hasValue(c[H.testAccuracy]);
  return (
    <>
      <Panel
        id="loss"
        title="Loss"
        note="Training loss of the applied gradients (moving average) and loss on the held-out test set."
        ready={hasLoss}
        empty={hasLoss ? null : 'No gradient applied yet.'}
      >
        <UPlotChart
          options={lossOptions}
          data={lossData}
          revision={revision}
          height={CHART_HEIGHT}
          label="Train and test loss"
        />
      </Panel>
      <Panel
        id="accuracy"
        title="Test accuracy"
        note="Share of the test set the current weights classify correctly, measured every few seconds."
        ready={hasAccuracy}
        empty={hasAccuracy ? null : 'No evaluation yet: the hub measures the model once its weights change.'}
      >
        <UPlotChart
          options={accuracyOptions}
          data={accuracyData}
          revision={revision}
          height={CHART_HEIGHT}
          label="Test accuracy"
        />
      </Panel>
    </>
  );
});
