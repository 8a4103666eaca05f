import { useMemo } from 'react';
import type uPlot from 'uplot';
import { chartOptions, colorAt, line, xAxis, yAxis } from '../../dashboard/chartOptions.js';
import { UPlotChart } from '../../dashboard/UPlotChart.js';
import type { AccuracyPoint } from './feedData.js';

const HEIGHT = 160;

/** The run's test accuracy since this page opened, drawn as the dashboard draws its charts. */
export function AccuracyChart({ points }: { points: readonly AccuracyPoint[] }) {
  const options = useMemo(
    () =>
      chartOptions({
        series: [
          // Evaluations come every few seconds: dots, so that one evaluation alone is seen too.
          line('test accuracy', colorAt(2), { width: 2, points: { show: true, size: 5 } }),
        ],
        axes: [{ ...xAxis('step'), label: 'examples the model has seen' }, yAxis('test accuracy (%)')],
        scales: { y: { range: (_u, min) => [Math.max(0, Math.floor(Math.min(min, 90) / 10) * 10), 100] } },
        legend: false,
      }),
    [],
  );
  const data = useMemo<uPlot.AlignedData>(
    () => [points.map((p) => p.examplesSeen), points.map((p) => p.accuracy * 100)],
    [points],
  );
  const last = points.at(-1);
  return (
    <section className="card accuracy" data-testid="accuracy">
      <h2>The model so far</h2>
      <p className="note">
        {last
          ? `Test accuracy ${(last.accuracy * 100).toFixed(1)}%: the share of held-out handwritten digits, never trained on, that it reads correctly.`
          : 'The hub measures the model on digits it never trains on every few seconds; the curve starts with its next measurement.'}
      </p>
      {points.length > 0 ? (
        <UPlotChart
          options={options}
          data={data}
          revision={points}
          height={HEIGHT}
          label="Run test accuracy"
        />
      ) : null}
    </section>
  );
}
