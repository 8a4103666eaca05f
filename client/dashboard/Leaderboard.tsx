import type { VolunteerStanding } from '../../shared/volunteerStanding.js';
import { formatInteger, formatPercent } from './format.js';
import { Panel } from './Panel.js';
import { useVolunteerStandings } from './useVolunteerStandings.js';

/** Rows shown; the whole list is at /api/volunteers. */
const SHOWN = 10;

/** Who has given the run the most, across tabs, reloads and hub restarts (credit per volunteer). */
export function Leaderboard() {
  const standings = useVolunteerStandings();
  const rows = (standings ?? []).slice(0, SHOWN);
  return (
    <Panel
      id="leaderboard"
      title="Leaderboard"
      note={
        <>
          Credit per volunteer: one browser profile is one volunteer, however many tabs. Examples behind
          accepted pushes; verified counts pushes the hub recomputed and found right. All of it at{' '}
          <a href="/api/volunteers">/api/volunteers</a>.
        </>
      }
      ready={standings !== null}
    >
      {rows.length === 0 ? (
        <p className="waiting">No credit yet: the first accepted push puts its volunteer here.</p>
      ) : (
        <div className="table-scroll">
          <table className="leaderboard" data-testid="leaderboard">
            <thead>
              <tr>
                <th scope="col" className="num">
                  #
                </th>
                <th scope="col">Volunteer</th>
                <th scope="col" className="num">
                  Examples
                </th>
                <th scope="col" className="num">
                  Share
                </th>
                <th scope="col" className="num" title="Pushes the hub recomputed that matched">
                  Verified
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <LeaderboardRow key={row.volunteer} row={row} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

function LeaderboardRow({ row }: { row: VolunteerStanding }) {
  const online = row.online > 0;
  return (
    <tr>
      <td className="num">{row.rank}</td>
      <td>
        <span
          className={online ? 'presence online' : 'presence'}
          title={online ? `${row.online} worker(s) connected now` : 'not connected now'}
          aria-label={online ? 'online' : 'offline'}
        />
        {row.name ?? <span className="anonymous">anonymous</span>}{' '}
        <code className="volunteer-id">{row.volunteer}</code>
      </td>
      <td className="num">{formatInteger(row.examples)}</td>
      <td className="num">{formatPercent(row.share, 1)}</td>
      <td className="num">{formatInteger(row.verified)}</td>
    </tr>
  );
}
