import type uPlot from 'uplot';
import type { TensorHistogram } from '../../shared/dashboardProtocol.js';

/** Bin centres and counts; a tensor whose values are all equal (a zeroed bias) is one bar. */
export function histogramData(h: TensorHistogram): uPlot.AlignedData {
  if (!(h.max > h.min)) return [[h.min], [h.counts.reduce((a, b) => a + b, 0)]];
  const width = (h.max - h.min) / h.counts.length;
  return [h.counts.map((_, i) => h.min + (i + 0.5) * width), [...h.counts]];
}
