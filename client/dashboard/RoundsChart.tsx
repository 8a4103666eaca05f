import { memo, useMemo } from 'react';
import uPlot from 'uplot';
import type { LocalSettings } from '../../shared/dashboardProtocol.js';
import { chartOptions, colorAt, line, xAxis, X_LABELS, yAxis } from './chartOptions.js';
import type { Column } from './columns.js';
import { R, type RoundColumns } from './DashboardStore.js';
import { formatDecimal, formatInteger } from './format.js';
import { describeLocalRound, describeOuter, formatSteps } from './modeDetail.js';
import { Panel } from './Panel.js';
import { UPlotChart } from './UPlotChart.js';

interface RoundsProps {
  /** What kind of rounds the run holds now (after a mode switch the chart keeps both kinds' rows). */
  readonly kind: 'sync' | 'local';
  readonly rounds: RoundColumns;
  readonly revision: number;
  readonly local: LocalSettings;
}

/** A count per round: steps, not slopes between rounds. */
const stepped = () => uPlot.paths.stepped?.({ align: 1 });

function syncOptions() {
  return chartOptions({
    xLabel: X_LABELS.round,
    series: [
      line('round time (ms)', colorAt(0), { width: 1.5 }),
      line('gradients aggregated', colorAt(1), { scale: 'gradients', width: 2, paths: stepped() }),
    ],
    axes: [xAxis('round'), yAxis('round time (ms)'), yAxis('gradients', { scale: 'gradients', side: 1 })],
    scales: {
      y: { range: (_u, _min, max) => [0, max * 1.1 || 1] },
      gradients: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.2))] },
    },
  });
}

function localOptions() {
  return chartOptions({
    xLabel: X_LABELS.round,
    series: [
      // Points: local rounds are few (one every several seconds), and a first one alone is no line.
      line('change norm (L2)', colorAt(0), { width: 1.5, points: { show: true, size: 5 } }),
      line('mean local steps', colorAt(1), {
        scale: 'steps',
        width: 2,
        paths: stepped(),
        points: { show: true, size: 4 },
      }),
    ],
    axes: [xAxis('round'), yAxis('change norm (L2)'), yAxis('local steps', { scale: 'steps', side: 1 })],
    scales: {
      y: { range: (_u, _min, max) => [0, max * 1.1 || 1] },
      steps: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.2))] },
    },
  });
}

/** The newest local round in words: who took part, its steps, its change, how long it took. */
function describeLocalRoundRow(c: readonly Column[], i: number): string {
  const changes = `${formatInteger(c[R.pushes][i] ?? 0)} of ${formatInteger(c[R.participants][i] ?? 0)}`;
  const seconds = ((c[R.durationMs][i] ?? 0) / 1000).toFixed(1);
  return (
    `Last round (${c[R.id][i]}): ${changes} workers' changes of ${formatSteps(c[R.localSteps][i])} ` +
    `local steps on average, combined norm ${formatDecimal(c[R.changeNorm][i])}, ${seconds} s.`
  );
}

/**
 * Sync mode: how long each round took and how many gradients it averaged. Local mode: the norm of the
 * combined weight change the outer optimizer applied each round, and the mean inner steps behind it.
 */
export const RoundsChart = memo(function RoundsChart({ kind, rounds, revision, local }: RoundsProps) {
  const options = useMemo(() => (kind === 'local' ? localOptions() : syncOptions()), [kind]);
  // Only this kind's rounds: after a mode switch the others would stretch the axis and mix the figures.
  const c = useMemo(() => rounds.ofKind(kind), [rounds, kind, revision]);
  const data = useMemo<uPlot.AlignedData>(
    () =>
      kind === 'local'
        ? [c[R.id] as number[], c[R.changeNorm], c[R.localSteps]]
        : [c[R.id] as number[], c[R.durationMs], c[R.pushes]],
    [c, kind],
  );
  const newest = c[R.id].length - 1;
  const ready = newest >= 0;
  const note =
    kind === 'sync'
      ? "Each round waits for the workers' gradients (or its timeout), averages them and applies one update."
      : ready
        ? describeLocalRoundRow(c, newest)
        : `Each worker trains the round's weights for ${describeLocalRound(local)}, then pushes its weight change; the shards apply the combined change once per round (${describeOuter(local)}).`;
  return (
    <Panel
      id="rounds"
      title={kind === 'local' ? 'Local rounds' : 'Sync rounds'}
      note={note}
      ready={ready}
      empty={ready ? null : kind === 'local' ? 'No local round closed yet.' : 'No round closed yet.'}
    >
      <UPlotChart
        options={options}
        data={data}
        revision={revision}
        height={200}
        label={
          kind === 'local'
            ? 'Change norm and mean local steps per round'
            : 'Round time and gradients per round'
        }
      />
    </Panel>
  );
});
