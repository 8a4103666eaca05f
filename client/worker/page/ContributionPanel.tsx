import { findStanding } from './feedData.js';
import type { HubFeedView } from './HubFeed.js';
import { NameField } from './NameField.js';

interface ContributionProps {
  readonly feed: HubFeedView;
  /** The volunteer's public name at the hub (the hello's reply); null before the first hello. */
  readonly volunteer: string | null;
  readonly name: string | null;
  readonly onName: (name: string) => void;
}

/** What this browser has given the run: its examples, share and rank on the hub's board. */
export function ContributionPanel({ feed, volunteer, name, onName }: ContributionProps) {
  const standing = findStanding(feed.volunteers ?? [], volunteer);
  return (
    <section className="card contribution" data-testid="contribution">
      <h2>Your contribution</h2>
      {standing ? (
        <p className="standing">
          <strong data-testid="contribution-examples">{standing.row.examples.toLocaleString('en')}</strong>{' '}
          examples trained,{' '}
          <strong data-testid="contribution-share">{formatShare(standing.row.share)}</strong> of the run; rank{' '}
          <strong data-testid="contribution-rank">{standing.row.rank}</strong> of {standing.of}{' '}
          {standing.of === 1 ? 'volunteer' : 'volunteers'}
        </p>
      ) : (
        <p className="note">{missingLine(feed, volunteer)}</p>
      )}
      <p className="note">
        Counted for this browser{volunteer ? ` (volunteer ${standing?.row.name ?? volunteer})` : ''}, across
        visits and hub restarts.
      </p>
      <NameField name={name} onSave={onName} />
    </section>
  );
}

function formatShare(share: number): string {
  const percent = share * 100;
  return `${percent >= 10 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

function missingLine(feed: HubFeedView, volunteer: string | null): string {
  if (feed.volunteersMissing) return 'This hub does not publish its volunteers (GET /api/volunteers).';
  if (volunteer === null) return 'Shown once this tab has joined the hub.';
  if (feed.volunteers === null) return 'Asking the hub…';
  return 'Not counted yet: your first accepted work shows here within seconds.';
}
