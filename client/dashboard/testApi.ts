import type { AdminLink, AdminRole } from './AdminLink.js';
import type { DashboardStore } from './DashboardStore.js';

/**
 * What end-to-end tests (and a curious person in the console) can read from the page:
 * `window.__dashboard.globalStep()` and friends. Plain data out, so Playwright's `page.evaluate` can
 * carry it.
 */
export interface DashboardTestApi {
  connection(): string;
  /** What the hub said this page may do: 'unknown' before it answered, 'viewer', 'admin', 'refused'. */
  adminRole(): AdminRole;
  /** Global step of the last update (or of the history), -1 before the history. */
  globalStep(): number;
  /** Test accuracy at the last evaluation (0..1), null before the first. */
  testAccuracy(): number | null;
  workers(): { id: string; backend: string; device?: string }[];
  /** Points of the training history held, and the first one (the run's start, when it is all there). */
  history(): {
    points: number;
    first: { t: number; globalStep: number } | null;
    last: { t: number; globalStep: number } | null;
    updates: number;
  };
  /** Each panel (`data-panel`) and whether it shows live data. */
  panels(): Record<string, boolean>;
  /** Images actually drawn in the filter and prediction grids (canvases with a bitmap). */
  imagesDrawn(): { filters: number; digits: number; predictions: number; wrong: number };
}

declare global {
  interface Window {
    __dashboard?: DashboardTestApi;
  }
}

function drawnCanvases(selector: string): number {
  return [...document.querySelectorAll<HTMLCanvasElement>(`${selector} canvas`)].filter((c) => c.width > 0)
    .length;
}

export function exposeTestApi(store: DashboardStore, admin: AdminLink): void {
  window.__dashboard = {
    connection: () => store.getSnapshot().connection,
    adminRole: () => admin.getSnapshot(),
    globalStep: () => {
      const s = store.getSnapshot();
      return s.latest?.run.globalStep ?? s.history.last(1) ?? -1;
    },
    testAccuracy: () => store.getSnapshot().latest?.run.testAccuracy ?? null,
    workers: () =>
      (store.getSnapshot().latest?.workers ?? []).map(({ id, backend, device }) => ({ id, backend, device })),
    history: () => {
      const s = store.getSnapshot();
      const [t, step] = s.history.columns;
      return {
        points: s.history.length,
        first: s.history.length > 0 ? { t: t[0] ?? 0, globalStep: step[0] ?? 0 } : null,
        last: s.history.length > 0 ? { t: t.at(-1) ?? 0, globalStep: step.at(-1) ?? 0 } : null,
        updates: s.updates,
      };
    },
    panels: () =>
      Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('[data-panel]')].map((p) => [
          p.dataset.panel ?? '',
          p.dataset.ready === 'true',
        ]),
      ),
    imagesDrawn: () => ({
      filters: drawnCanvases('[data-testid="filter-grid"]'),
      digits: drawnCanvases('[data-testid="prediction-grid"]'),
      predictions: document.querySelectorAll(
        '[data-testid="prediction-grid"] [data-state="right"], [data-testid="prediction-grid"] [data-state="wrong"]',
      ).length,
      wrong: document.querySelectorAll('[data-testid="prediction-grid"] [data-state="wrong"]').length,
    }),
  };
}
