import { memo } from 'react';
import type { TensorHistogram } from '../../shared/dashboardProtocol.js';
import { HistogramChart } from './HistogramChart.js';
import { Panel } from './Panel.js';

/** Small multiples: one weight histogram per tensor, in the model's order. */
export const HistogramGrid = memo(function HistogramGrid({
  histograms,
}: {
  readonly histograms: readonly TensorHistogram[] | null;
}) {
  const ready = histograms !== null && histograms.length > 0;
  return (
    <Panel
      id="histograms"
      title="Weight histograms"
      note="Distribution of each tensor's values, recomputed by the hub every few seconds."
      ready={ready}
      span="full"
      empty={ready ? null : 'No weights sampled yet.'}
    >
      <div className="histograms">
        {histograms?.map((h, i) => (
          <HistogramChart key={h.name} histogram={h} color={i} />
        ))}
      </div>
    </Panel>
  );
});
