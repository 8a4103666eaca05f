import { memo } from 'react';
import type { DashboardUpdate } from '../../shared/dashboardProtocol.js';
import { formatTimeOfDay } from './format.js';

/** Shown at most; the hub keeps the last 50. */
const SHOWN = 12;

/** Joins and leaves, newest first (part of the volunteers panel). */
export const EventsList = memo(function EventsList({
  events,
}: {
  readonly events: DashboardUpdate['events'];
}) {
  const newest = events.slice(-SHOWN).reverse();
  return (
    <div className="events-block">
      <h3>
        Joins and leaves{' '}
        <span className="detail">
          {events.length > SHOWN ? `(newest ${SHOWN} of the last ${events.length})` : '(newest first)'}
        </span>
      </h3>
      {newest.length === 0 ? (
        <p className="waiting">Nobody has joined yet.</p>
      ) : (
        <ol className="events" data-testid="events">
          {newest.map((e) => (
            <li key={`${e.at}-${e.kind}-${e.workerId}`} className={e.kind}>
              <time dateTime={new Date(e.at).toISOString()}>{formatTimeOfDay(e.at)}</time>
              <span className="kind">{e.kind === 'join' ? 'joined' : 'left'}</span>
              <span className="id">{e.workerId}</span>
              <span className="backend">{e.backend}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
});
