import { memo, useMemo } from 'react';
import type { TensorHistogram } from '../../shared/dashboardProtocol.js';
import { bars, chartOptions, colorAt, tick, yAxis } from './chartOptions.js';
import { formatCompact, formatDecimal, formatInteger } from './format.js';
import { histogramData } from './histogramData.js';
import { UPlotChart } from './UPlotChart.js';

/** Whole-number tick steps: a count of 0.5 values means nothing. */
const COUNT_INCRS = [1, 2, 5]
  .flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6].map((p) => m * p))
  .sort((a, b) => a - b);

interface HistogramChartProps {
  readonly histogram: TensorHistogram;
  readonly color: number;
}

/** The distribution of one tensor's weights, as bars. */
export const HistogramChart = memo(function HistogramChart({ histogram, color }: HistogramChartProps) {
  const options = useMemo(
    () =>
      chartOptions({
        xLabel: 'weight value',
        series: [bars('weights', colorAt(color))],
        axes: [
          {
            stroke: '#3b4552',
            font: '11px system-ui, sans-serif',
            labelFont: '600 11px system-ui, sans-serif',
            label: 'weight value',
            labelSize: 18,
            size: 26,
            space: 36,
            grid: { show: false },
            ticks: { size: 3 },
            values: (_u, splits) => splits.map((v) => tick(v, formatCompact)),
          },
          { ...yAxis('count'), size: 44, incrs: COUNT_INCRS },
        ],
        scales: {
          y: { range: (_u, _min, max) => [0, max * 1.1 || 1] },
          // From the first bin's left edge to the last one's right edge; a single bar gets room either side.
          x: {
            time: false,
            range: (u, min, max) => {
              const bins = u.data[0].length;
              if (!(max > min) || bins < 2) return [min - 1, max + 1];
              const half = (max - min) / (bins - 1) / 2;
              return [min - half, max + half];
            },
          },
        },
        legend: false,
      }),
    [color],
  );
  const data = useMemo(() => histogramData(histogram), [histogram]);
  const total = histogram.counts.reduce((a, b) => a + b, 0);
  return (
    <figure className="histogram">
      <figcaption>
        <span className="tensor">{histogram.name}</span>
        <span className="detail">
          [{histogram.shape.join('×')}] · {formatInteger(total)} values
        </span>
        <span className="detail">L2 norm {formatDecimal(histogram.l2)}</span>
      </figcaption>
      <UPlotChart
        options={options}
        data={data}
        revision={histogram}
        height={140}
        label={`Histogram of ${histogram.name}`}
      />
    </figure>
  );
});
