import { memo } from 'react';
import type { DashboardUpdate, WorkerRow } from '../../shared/dashboardProtocol.js';
import { EventsList } from './EventsList.js';
import { formatAgo, formatInteger, formatRate } from './format.js';
import { Panel } from './Panel.js';

interface VolunteersProps {
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
  workers,
  hubNow,
  refusals,
  events,
}: VolunteersProps) {
  const fastest = workers.reduce((m, w) => Math.max(m, w.examplesPerSec), 0);
  const refusedTotal = refusedCount(refusals);
  return (
    <Panel
      id="volunteers"
      title={`Volunteers (${workers.length} connected)`}
      note={`Every browser tab or Node worker that is training. Credit counts the examples behind accepted gradients.${
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
                  title="Accepted gradient pushes: the steps this worker contributed"
                >
                  Steps (accepted)
                </th>
                <th scope="col" className="num">
                  Refused
                </th>
                <th scope="col" className="num" title="Examples behind accepted gradients">
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
                    <td className="id">{w.id}</td>
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
                    <td
                      className={refused > 0 ? 'num refused' : 'num'}
                      title={describeRefusals(w.refused) || undefined}
                    >
                      {formatInteger(refused)}
                    </td>
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
