import { VOLUNTEERS_PATH } from '../../../shared/volunteerStanding.js';
import { parseVolunteers, withEvaluation, type AccuracyPoint, type VolunteerRow } from './feedData.js';

export interface HubFeedView {
  /** The volunteers board; null before the first answer, or where the hub has none (`missing`). */
  readonly volunteers: readonly VolunteerRow[] | null;
  /** The hub answered /api/volunteers with 404: an older hub. */
  readonly volunteersMissing: boolean;
  readonly accuracy: readonly AccuracyPoint[];
}

/** Often enough to look live, seldom enough to cost the hub nothing (two small GETs). */
export const FEED_INTERVAL_MS = 5_000;

/**
 * Polls the hub for the page's contribution and accuracy panels while the page is in view (a hidden
 * page draws nothing, so it asks nothing; it catches up when shown). An external store for React.
 */
export class HubFeed {
  private current: HubFeedView = { volunteers: null, volunteersMissing: false, accuracy: [] };
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(private readonly hubUrl: string) {}

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): HubFeedView => this.current;

  start(): () => void {
    this.running = true;
    const onVisibility = () => {
      if (document.visibilityState === 'visible') void this.poll();
    };
    document.addEventListener('visibilitychange', onVisibility);
    void this.poll();
    return () => {
      this.running = false;
      if (this.timer !== null) clearTimeout(this.timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }

  private async poll(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) return;
    if (document.visibilityState === 'visible') {
      await Promise.all([this.pollVolunteers(), this.pollStatus()]);
    }
    if (this.running) this.timer = setTimeout(() => void this.poll(), FEED_INTERVAL_MS);
  }

  private async pollVolunteers(): Promise<void> {
    try {
      const response = await fetch(new URL(VOLUNTEERS_PATH, this.hubUrl));
      if (response.status === 404) return this.update({ volunteersMissing: true });
      if (!response.ok) return;
      this.update({ volunteers: parseVolunteers(await response.json()), volunteersMissing: false });
    } catch {
      // The hub is away: the worker says so; the panel keeps what it had.
    }
  }

  private async pollStatus(): Promise<void> {
    try {
      const response = await fetch(new URL('/api/status', this.hubUrl));
      if (!response.ok) return;
      const accuracy = withEvaluation(this.current.accuracy, await response.json());
      if (accuracy !== this.current.accuracy) this.update({ accuracy });
    } catch {
      // As above.
    }
  }

  private update(patch: Partial<HubFeedView>): void {
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener();
  }
}
