import { useEffect, useState } from 'react';
import { VOLUNTEERS_PATH, type VolunteerStanding } from '../../shared/volunteerStanding.js';

/** Credit moves with every push; the leaderboard need not: every few seconds is plenty. */
const REFRESH_EVERY_MS = 5_000;

/** GET /api/volunteers now and every few seconds; null until the first answer. */
export function useVolunteerStandings(): readonly VolunteerStanding[] | null {
  const [standings, setStandings] = useState<readonly VolunteerStanding[] | null>(null);
  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const response = await fetch(VOLUNTEERS_PATH);
        if (response.ok && !stopped) setStandings((await response.json()) as VolunteerStanding[]);
      } catch {
        // The hub is unreachable for a moment: the connection badge says so; keep the last board.
      }
    };
    void load();
    const timer = setInterval(() => void load(), REFRESH_EVERY_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  return standings;
}
