import uPlot from 'uplot';
import { formatClock, formatCompact } from './format.js';
import type { ChartOptions } from './UPlotChart.js';

/** One look for every chart: readable fonts, units on the axes, no drag-zoom (data arrives each second). */

const FONT = '12px system-ui, sans-serif';
const LABEL_FONT = '600 12px system-ui, sans-serif';
const AXIS_COLOR = '#3b4552';
const GRID = { stroke: '#e3e7ec', width: 1 };
const TICKS = { stroke: '#c5ccd4', width: 1, size: 4 };

/** Distinct colours for lines; the first two are the "main" pair (e.g. train vs test). */
export const PALETTE = [
  '#2563eb',
  '#ea580c',
  '#16a34a',
  '#9333ea',
  '#dc2626',
  '#0891b2',
  '#a16207',
  '#db2777',
  '#4b5563',
];

export function colorAt(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/** Whole-number steps for an axis of round numbers (a round 2.5 does not exist). */
const ROUND_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000];

/** Seconds to the next "nice" clock step: 1 s ... 1 day. */
const CLOCK_INCRS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

type XAxisKind = 'step' | 'time' | 'round';

export const X_LABELS: Record<XAxisKind, string> = {
  step: 'global step (updates applied)',
  time: 'elapsed time (m:ss)',
  round: 'round',
};

/** A bottom axis: global step, elapsed time (seconds formatted as a clock) or round number. */
export function xAxis(kind: XAxisKind): uPlot.Axis {
  return {
    ...axisLook(),
    label: X_LABELS[kind],
    // Room for one line of tick values; uPlot's default (50 px) leaves a gap above the label.
    size: 30,
    space: kind === 'time' ? 64 : 56,
    // Only set when wanted: uPlot copies an `undefined` over its default.
    ...(kind === 'time' ? { incrs: CLOCK_INCRS } : kind === 'round' ? { incrs: ROUND_INCRS } : {}),
    values: (_u, splits) => splits.map((v) => tick(v, kind === 'time' ? formatClock : formatCompact)),
  };
}

/** A bottom axis over whole numbers (buckets, counts), each tick formatted by `format`. */
export function integerAxis(label: string, format: (value: number) => string): uPlot.Axis {
  return {
    ...axisLook(),
    label,
    size: 30,
    space: 24,
    incrs: [1, 2, 4, 8, 16],
    grid: { show: false },
    values: (_u, splits) => splits.map((v) => tick(v, format)),
  };
}

/** A y axis with its unit in the label; `side` 1 puts it on the right (a second scale, no grid). */
export function yAxis(
  label: string,
  options: { scale?: string; side?: 1 | 3; percent?: boolean } = {},
): uPlot.Axis {
  const right = options.side === 1;
  return {
    ...axisLook(),
    label,
    scale: options.scale ?? 'y',
    side: options.side ?? 3,
    size: 52,
    space: 28,
    grid: right ? { show: false } : GRID,
    values: (_u, splits) => splits.map((v) => tick(v, formatCompact)),
  };
}

/** uPlot passes null for splits it filtered out (typed as number all the same). */
export function tick(value: number | null, format: (value: number) => string): string {
  return value === null || !Number.isFinite(value) ? '' : format(value);
}

function axisLook(): uPlot.Axis {
  return {
    stroke: AXIS_COLOR,
    font: FONT,
    labelFont: LABEL_FONT,
    labelSize: 20,
    grid: GRID,
    ticks: TICKS,
  };
}

/** A line; gaps (null) are bridged, since values like test accuracy are sampled sparsely. */
export function line(label: string, color: string, options: Partial<uPlot.Series> = {}): uPlot.Series {
  return { label, stroke: color, width: 1.5, spanGaps: true, points: { show: false }, ...options };
}

/** Bars, for distributions. */
export function bars(label: string, color: string): uPlot.Series {
  return {
    label,
    stroke: color,
    fill: `${color}99`,
    width: 1,
    paths: uPlot.paths.bars?.({ size: [0.9, 64], align: 0 }),
    points: { show: false },
  };
}

/** Options shared by every chart; `series` excludes the x series, which is added here. */
export function chartOptions(parts: {
  readonly xLabel?: string;
  readonly series: uPlot.Series[];
  readonly axes: uPlot.Axis[];
  readonly scales?: uPlot.Scales;
  readonly legend?: boolean;
}): ChartOptions {
  return {
    series: [{ label: parts.xLabel ?? 'x' }, ...parts.series],
    axes: parts.axes,
    scales: { x: { time: false }, ...parts.scales },
    legend: { show: parts.legend ?? true, live: false },
    cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
    padding: [8, 12, 0, 0],
  };
}
