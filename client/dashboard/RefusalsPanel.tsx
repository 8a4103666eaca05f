import { memo, useMemo, type ReactNode } from 'react';
import type uPlot from 'uplot';
import { chartOptions, colorAt, line, xAxis, X_LABELS, yAxis } from './chartOptions.js';
import { formatInteger, formatRate } from './format.js';
import { Panel } from './Panel.js';
import type { RefusalRates } from './RefusalRates.js';
import { refusalReason, type RefusalKind } from './refusalReasons.js';
import { UPlotChart } from './UPlotChart.js';

const CHART_HEIGHT = 150;

const KIND_LABEL: Record<RefusalKind, string> = {
  rule: 'training rule',
  client: 'bad client',
  hub: 'hub bug',
};

const KIND_TITLE: Record<RefusalKind, string> = {
  rule: 'The training rules at work: expected now and then, more often under load',
  client: 'A broken, hostile or outdated client sent it',
  hub: 'A bug in the hub: see its log',
};

interface RefusalsProps {
  /** Refused messages by error code since the hub started (`DashboardUpdate.refusals`). */
  readonly refusals: Readonly<Record<string, number>>;
  /** The same per second, since this page opened; appended in place. */
  readonly rates: RefusalRates;
  /** `rates.key`: changes when a code gets a line of its own. */
  readonly ratesKey: string;
  readonly revision: number;
  /** True once an update has arrived (no refusals is live data too). */
  readonly ready: boolean;
}

/** Why the hub said no: every error code it has answered with, how often, and what it means. */
export const RefusalsPanel = memo(function RefusalsPanel({
  refusals,
  rates,
  ratesKey,
  revision,
  ready,
}: RefusalsProps) {
  const options = useMemo(
    () =>
      chartOptions({
        xLabel: X_LABELS.time,
        // The table's swatches are the legend.
        series: rates.codes.map((code, i) => line(code, colorAt(i), { width: 2 })),
        axes: [xAxis('time'), yAxis('refused/s')],
        scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        legend: false,
      }),
    // The RefusalRates object is appended in place; ratesKey says when its set of codes changed.
    [rates, ratesKey],
  );
  const data = useMemo<uPlot.AlignedData>(() => rates.columns as uPlot.AlignedData, [rates, ratesKey]);
  const rows = Object.entries(refusals)
    .filter(([, count]) => count > 0)
    .sort(([a, m], [b, n]) => n - m || a.localeCompare(b));
  const total = rows.reduce((sum, [, count]) => sum + count, 0);
  return (
    <Panel
      id="refusals"
      title={
        total > 0 ? `Refused messages by reason (${formatInteger(total)})` : 'Refused messages by reason'
      }
      note="Every message the hub refused since it started (mostly gradient pushes), by error code. Now /s and the chart: since this page opened."
      ready={ready}
      empty={total > 0 ? null : 'No refusals.'}
    >
      <div className="table-scroll">
        <table className="refusals" data-testid="refusals">
          <thead>
            <tr>
              <th scope="col">Reason</th>
              <th scope="col" className="num">
                Refused
              </th>
              <th scope="col" className="num" title="Refusals per second over the last update interval">
                Now /s
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([code, count]) => {
              const { meaning, kind } = refusalReason(code);
              const lineIndex = rates.codes.indexOf(code);
              const rate = rates.latestRate(code);
              return (
                <tr key={code} data-code={code} data-kind={kind}>
                  <th scope="row" className="reason">
                    <span className="code-line">
                      <span
                        className="swatch"
                        style={{ background: lineIndex >= 0 ? colorAt(lineIndex) : 'transparent' }}
                        aria-hidden="true"
                      />
                      <code>{code}</code>
                      <span className={`kind ${kind}`} title={KIND_TITLE[kind]}>
                        {KIND_LABEL[kind]}
                      </span>
                    </span>
                    <span className="meaning">{withFlags(meaning)}</span>
                  </th>
                  <td className="num count">{formatInteger(count)}</td>
                  <td className="num">{rate === null ? '–' : formatRate(rate)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {rates.length > 1 ? (
        <UPlotChart
          options={options}
          data={data}
          revision={revision}
          height={CHART_HEIGHT}
          label="Refused messages per second by error code over time"
        />
      ) : (
        <p className="waiting">The rate over time starts with the next update.</p>
      )}
    </Panel>
  );
});

/** Keeps command-line flags (`--max-staleness`) whole: a line break after `--` reads as a dash. */
function withFlags(text: string): ReactNode[] {
  return text.split(/(--[a-z-]+)/).map((part, i) =>
    i % 2 === 1 ? (
      <code key={i} className="flag">
        {part}
      </code>
    ) : (
      part
    ),
  );
}
