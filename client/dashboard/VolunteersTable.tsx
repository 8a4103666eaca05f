import { memo } from 'react';
import type { DashboardUpdate, WorkerRow } from '../../shared/dashboardProtocol.js';
import type { TrainingMode } from '../../shared/protocol.js';
import { EventsList } from './EventsList.js';
import { formatAgo, formatDecimal, formatInteger, formatRate } from './format.js';
import { Panel } from './Panel.js';

interface VolunteersProps {
  /** Local mode adds each worker's local steps and change norm. */
  readonly mode: TrainingMode;
  readonly workers: readonly WorkerRow[];
  /** The hub's clock at the update (epoch ms): "last seen" is measured against it. */
  readonly hubNow: number;
  /** Refused messages by error code, whole run. */
  readonly refusals: Readonly<Record<string, number>>;
  readonly events: DashboardUpdate['events'];
}

function refusedCount(refused: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const n of Object.values(refused)) total += n;
  return total;
}

function describeRefusals(refused: Readonly<Record<string, number>>): string {
  return Object.entries(refused)
    .map(([code, n]) => `${code}: ${n}`)
    .join(', ');
}

/** Who is helping: one row per connected worker, in the order they joined, then who came and went. */
export const VolunteersTable = memo(function VolunteersTable({
  mode,
  workers,
  hubNow,
  refusals,
  events,
}: VolunteersProps) {
  const fastest = workers.reduce((m, w) => Math.max(m, w.examplesPerSec), 0);
  const refusedTotal = refusedCount(refusals);
  const local = mode === 'local';
  const trusted = workers.some((w) => w.trust !== null);
  // What a worker pushes in this mode: gradients, or the weight change of its local steps.
  const pushes = local ? 'weight changes' : 'gradients';
  return (
    <Panel
      id="volunteers"
      title={`Volunteers (${workers.length} connected)`}
      note={`Every browser tab or Node worker that is training. Credit counts the examples behind accepted ${pushes}; checked counts the pushes the hub recomputed to verify them.${
        local ? ' Local steps and change norm are those of the last accepted change.' : ''
      }${
        refusedTotal > 0
          ? ' Hover a refused count for its codes; every refusal is listed by reason in its own panel.'
          : ''
      }`}
      ready={workers.length > 0}
      span="wide"
    >
      {workers.length === 0 ? (
        <p className="waiting">No worker connected. Open /worker in a browser tab to help.</p>
      ) : (
        <div className="table-scroll">
          <table className="volunteers" data-testid="volunteers">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Backend / device</th>
                <th scope="col" className="num">
                  Examples/s
                </th>
                <th
                  scope="col"
                  className="num"
                  title={
                    local
                      ? 'Accepted pushes: weight changes, the rounds this worker contributed to (gradients from before a mode switch count too)'
                      : 'Accepted gradient pushes: the steps this worker contributed'
                  }
                >
                  {local ? 'Changes' : 'Steps (accepted)'}
                </th>
                {local ? (
                  <>
                    <th
                      scope="col"
                      className="num"
                      title="Inner steps behind the worker's last accepted weight change"
                    >
                      Local steps
                    </th>
                    <th scope="col" className="num" title="L2 norm of the last accepted weight change">
                      Change norm
                    </th>
                  </>
                ) : null}
                <th scope="col" className="num">
                  Refused
                </th>
                <th
                  scope="col"
                  className="num"
                  title="Pushes the hub recomputed itself (--spot-check): matched / did not match"
                >
                  Checked ok / failed
                </th>
                {trusted ? (
                  <th
                    scope="col"
                    className="num"
                    title="--trust: 0-1; newcomers start at 0.5, below 0.2 refused"
                  >
                    Trust
                  </th>
                ) : null}
                <th scope="col" className="num" title={`Examples behind accepted ${pushes}`}>
                  Credit (examples)
                </th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => {
                const refused = refusedCount(w.refused);
                return (
                  <tr key={w.id} data-worker={w.id}>
                    <td className="id">
                      {w.id}
                      <span className="device" title="The volunteer, the same across its reconnects">
                        {w.volunteer}
                      </span>
                    </td>
                    <td>
                      <span className="backend">{w.backend}</span>
                      {w.device ? <span className="device">{w.device}</span> : null}
                    </td>
                    <td className="num rate">
                      <span
                        className="bar"
                        style={{ width: `${fastest > 0 ? (100 * w.examplesPerSec) / fastest : 0}%` }}
                        aria-hidden="true"
                      />
                      <span className="bar-value">{formatRate(w.examplesPerSec)}</span>
                    </td>
                    <td className="num">{formatInteger(w.steps)}</td>
                    {local ? (
                      <>
                        <td className="num" data-cell="local-steps">
                          {w.changeNorm === null ? '-' : formatInteger(w.localSteps)}
                        </td>
                        <td className="num" data-cell="change-norm">
                          {formatDecimal(w.changeNorm)}
                        </td>
                      </>
                    ) : null}
                    <td
                      className={refused > 0 ? 'num refused' : 'num'}
                      title={describeRefusals(w.refused) || undefined}
                    >
                      {formatInteger(refused)}
                    </td>
                    <td className={w.checks.failed > 0 ? 'num refused' : 'num'} data-cell="checks">
                      {formatInteger(w.checks.verified)} / {formatInteger(w.checks.failed)}
                    </td>
                    {trusted ? (
                      <td className="num" data-cell="trust">
                        {w.trust === null ? '-' : w.trust.toFixed(2)}
                      </td>
                    ) : null}
                    <td className="num">{formatInteger(w.credit)}</td>
                    <td>{formatAgo(w.lastSeen, hubNow)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <EventsList events={events} />
    </Panel>
  );
});
