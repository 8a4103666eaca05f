import { H, type DashboardState } from './DashboardStore.js';

/** Which x axis the history charts use: the global step or seconds since the start. */
export type XKind = 'step' | 'time';

/** The x column of the history for a kind of x axis (global step or seconds since the start). */
export function xColumn(history: DashboardState['history'], x: XKind): number[] {
  // Neither column has gaps: every history point has a time and a step.
  return history.columns[x === 'step' ? H.step : H.t] as number[];
}
