import { memo, useEffect, useLayoutEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** uPlot options without the size: the chart takes its container's width and the given height. */
export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

interface UPlotChartProps {
  /** Must keep its identity (useMemo) while the series stay the same: a new object rebuilds the chart. */
  readonly options: ChartOptions;
  /** `[x, y1, y2, ...]`; the arrays may be the same ones, appended in place, from update to update. */
  readonly data: uPlot.AlignedData;
  /** Changes when `data` has new values, so the chart redraws without being rebuilt. */
  readonly revision: unknown;
  /** Plotting area plus axes, in CSS pixels (the legend comes below). */
  readonly height: number;
  /** What the chart shows, for screen readers. */
  readonly label: string;
}

const MIN_WIDTH = 160;

function widthOf(element: HTMLElement): number {
  return Math.max(MIN_WIDTH, Math.floor(element.clientWidth));
}

/**
 * A thin React wrapper over uPlot: builds the chart once per `options`, feeds new data with
 * `setData` (no rebuild, no re-layout of the page), follows its container's width.
 */
export const UPlotChart = memo(function UPlotChart({
  options,
  data,
  revision,
  height,
  label,
}: UPlotChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  // What the chart should draw, and what it last drew: a rebuild and a data change in one render draw once.
  const wanted = useRef({ data, revision });
  const drawn = useRef<{ data: uPlot.AlignedData; revision: unknown } | null>(null);

  useLayoutEffect(() => {
    wanted.current = { data, revision };
  }, [data, revision]);

  useLayoutEffect(() => {
    const element = holder.current;
    if (element === null) return undefined;
    const plot = new uPlot({ ...options, width: widthOf(element), height }, wanted.current.data, element);
    chart.current = plot;
    drawn.current = wanted.current;
    const observer = new ResizeObserver(() => {
      const width = widthOf(element);
      if (width !== plot.width) plot.setSize({ width, height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
      chart.current = null;
    };
  }, [options, height]);

  useEffect(() => {
    const last = drawn.current;
    if (chart.current === null || (last?.data === data && last.revision === revision)) return;
    drawn.current = { data, revision };
    chart.current.setData(data);
  }, [data, revision]);

  return <div ref={holder} className="chart" role="img" aria-label={label} />;
});
