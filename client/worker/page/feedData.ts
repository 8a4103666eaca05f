import type { VolunteerStanding } from '../../../shared/volunteerStanding.js';

/**
 * What the worker page shows of the run beyond its own tab: the volunteer's standing (GET
 * /api/volunteers, found by the public name the hub gave at hello) and the run's test accuracy over
 * time (GET /api/status, one point per evaluation seen). Pure parsing here; HubFeed.ts polls.
 */

/** One row of GET /api/volunteers (best first): the hub's own type. */
export type VolunteerRow = VolunteerStanding;

/** The rows of a /api/volunteers answer that have what the page shows; anything else is dropped. */
export function parseVolunteers(body: unknown): VolunteerRow[] {
  if (!Array.isArray(body)) return [];
  return body.filter(
    (row): row is VolunteerRow =>
      typeof row === 'object' &&
      row !== null &&
      typeof row.volunteer === 'string' &&
      typeof row.examples === 'number' &&
      typeof row.share === 'number' &&
      typeof row.rank === 'number',
  );
}

export interface Standing {
  readonly row: VolunteerRow;
  /** Volunteers on the board. */
  readonly of: number;
}

export function findStanding(rows: readonly VolunteerRow[], volunteer: string | null): Standing | null {
  if (volunteer === null) return null;
  const row = rows.find((r) => r.volunteer === volunteer);
  return row === undefined ? null : { row, of: rows.length };
}

/** One evaluation of the run's weights: examples seen by them, and test accuracy 0..1. */
export interface AccuracyPoint {
  /** When it was measured (epoch ms): the key that tells a new evaluation from one seen before. */
  readonly at: number;
  readonly examplesSeen: number;
  readonly accuracy: number;
}

/**
 * `points` with the evaluation a /api/status answer reports, when it is a new one. A run reset (fewer
 * examples than the last point) starts the curve again.
 */
export function withEvaluation(points: readonly AccuracyPoint[], status: unknown): readonly AccuracyPoint[] {
  const s = status as {
    testAccuracy?: unknown;
    evaluation?: { examplesSeen?: unknown; at?: unknown } | null;
  };
  const accuracy = s?.testAccuracy;
  const examplesSeen = s?.evaluation?.examplesSeen;
  const at = s?.evaluation?.at;
  if (typeof accuracy !== 'number' || typeof examplesSeen !== 'number' || typeof at !== 'number')
    return points;
  const last = points.at(-1);
  if (last !== undefined && last.at === at) return points;
  const point = { at, examplesSeen, accuracy };
  if (last !== undefined && examplesSeen < last.examplesSeen) return [point];
  return [...points, point].slice(-MAX_POINTS);
}

/** A few hours of evaluations every few seconds, at most. */
const MAX_POINTS = 2_000;
