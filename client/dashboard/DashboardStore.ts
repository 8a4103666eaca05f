import type {
  DashboardHistory,
  DashboardUpdate,
  HistoryPoint,
  RunInfo,
  TensorHistogram,
} from '../../shared/dashboardProtocol.js';
import { BoundedColumns, type Column } from './columns.js';
import { RefusalRates } from './RefusalRates.js';
import { WorkerRates } from './WorkerRates.js';

/** Rows kept per chart: the hub sends at most 600, then one arrives per second. */
export const MAX_ROWS = 1_200;

/** MNIST digits are 28 x 28 (shared/models.ts says so too, but importing it would bundle TF.js). */
export const DIGIT_SIZE = 28;

export type Connection = 'connecting' | 'live' | 'reconnecting';

/** Greyscale images, one byte per pixel, each a view into the bytes that arrived. */
export interface ImageSet {
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly images: readonly Uint8Array[];
}

export interface Samples extends ImageSet {
  readonly labels: readonly number[];
}

/** Column indices of the history (`HistoryColumns.columns[i]`); norms follow, one per tensor. */
export const H = {
  t: 0,
  step: 1,
  examplesPerSec: 2,
  pushesPerSec: 3,
  trainLoss: 4,
  /** In percent. */
  testAccuracy: 5,
  testLoss: 6,
  workers: 7,
  firstNorm: 8,
} as const;

function historyRow(point: HistoryPoint): (number | null)[] {
  return [
    point.t,
    point.globalStep,
    point.examplesPerSec,
    point.pushesPerSec,
    point.trainLoss,
    point.testAccuracy === null ? null : point.testAccuracy * 100,
    point.testLoss,
    point.workers,
    ...point.norms,
  ];
}

/** Column indices of the rounds (`RoundColumns.columns[i]`). */
export const R = {
  id: 0,
  durationMs: 1,
  /** Gradients (sync) or weight changes (local) combined. */
  pushes: 2,
  participants: 3,
  /** Local rounds: L2 norm of the combined change; null for a sync round. */
  changeNorm: 4,
  /** Local rounds: mean inner steps behind the changes; null for a sync round. */
  localSteps: 5,
  /** 1 for a local round, 0 for a sync one. */
  local: 6,
} as const;

/**
 * Closed rounds, oldest first, as columns (R). After a mode switch both kinds are there: a sync round
 * has no change norm or local steps (null, a gap in those lines).
 */
export class RoundColumns {
  private readonly store = new BoundedColumns(7, MAX_ROWS);

  get columns(): Column[] {
    return this.store.columns;
  }

  get length(): number {
    return this.store.length;
  }

  /** The rows of one kind, as new columns (a chart of one kind of round; O(rows), rows <= MAX_ROWS). */
  ofKind(kind: 'sync' | 'local'): Column[] {
    const wanted = kind === 'local' ? 1 : 0;
    const columns = this.store.columns;
    const rows: number[] = [];
    columns[R.local].forEach((value, row) => {
      if (value === wanted) rows.push(row);
    });
    // The usual case, a run that never switched: the columns themselves.
    if (rows.length === this.length) return columns;
    return columns.map((column) => rows.map((row) => column[row]));
  }

  /** Appends the rounds not seen yet (the hub resends its recent ones every update). */
  add(rounds: DashboardUpdate['rounds']): void {
    const lastId = this.store.last(R.id) ?? -Infinity;
    for (const r of rounds) {
      if (r.id > lastId) {
        const local = r.kind === 'local' ? 1 : 0;
        this.store.append([
          r.id,
          r.durationMs,
          r.gradients,
          r.participants,
          r.changeNorm,
          r.localSteps,
          local,
        ]);
      }
    }
  }
}

export interface DashboardState {
  readonly connection: Connection;
  readonly run: RunInfo | null;
  readonly samples: Samples | null;
  /** The last update (or the one the history carried). */
  readonly latest: DashboardUpdate | null;
  /** Hub clock (epoch ms) of the last update: "last seen" is measured against it, not this clock. */
  readonly hubNow: number;
  /** The last weight histograms and first-layer images (updates carry them only when they change). */
  readonly histograms: readonly TensorHistogram[] | null;
  readonly filters: ImageSet | null;
  /** Time series; the arrays are appended in place, `revision` says when. */
  readonly history: BoundedColumns;
  readonly workerRates: WorkerRates;
  /** Refused messages per second by error code, since this page opened. */
  readonly refusalRates: RefusalRates;
  readonly rounds: RoundColumns;
  /** Bumped by every history or update: charts redraw their (shared, mutated) columns then. */
  readonly revision: number;
  /** Updates received since the last history. */
  readonly updates: number;
}

/** Binary fields arrive as ArrayBuffer in the browser (and as Uint8Array/Buffer in Node). */
export function toBytes(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError('expected binary image data');
}

function splitImages(pixels: unknown, count: number, size: number): Uint8Array[] {
  const bytes = toBytes(pixels);
  if (bytes.length < count * size) throw new RangeError(`expected ${count} images of ${size} bytes`);
  return Array.from({ length: count }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
}

function emptyState(connection: Connection): DashboardState {
  return {
    connection,
    run: null,
    samples: null,
    latest: null,
    hubNow: 0,
    histograms: null,
    filters: null,
    history: new BoundedColumns(H.firstNorm, MAX_ROWS),
    workerRates: new WorkerRates(MAX_ROWS),
    refusalRates: new RefusalRates(MAX_ROWS),
    rounds: new RoundColumns(),
    revision: 0,
    updates: 0,
  };
}

/**
 * Owns what the dashboard shows, outside React: a history replaces everything, an update appends one
 * row to each series (O(new data); the arrays are shared with the charts, not copied) and makes a new
 * state object, so `useSyncExternalStore` re-renders and memoised panels skip what did not change.
 */
export class DashboardStore {
  private state: DashboardState = emptyState('connecting');
  private readonly listeners = new Set<() => void>();

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): DashboardState => this.state;

  setConnection(connection: Connection): void {
    if (connection !== this.state.connection) this.set({ ...this.state, connection });
  }

  applyHistory(history: DashboardHistory): void {
    const { run, samples, latest } = history;
    const state = emptyState('live');
    const columns = new BoundedColumns(H.firstNorm + run.tensors.length, MAX_ROWS);
    for (const point of history.points) columns.append(historyRow(point));
    if (latest) {
      state.rounds.add(latest.rounds);
      state.workerRates.add(latest.point.t, latest.workers);
      state.refusalRates.add(latest.point.t, latest.refusals);
    }
    this.set({
      ...state,
      run,
      history: columns,
      samples: {
        title: `first ${samples.count} test digits`,
        width: DIGIT_SIZE,
        height: DIGIT_SIZE,
        images: splitImages(samples.pixels, samples.count, DIGIT_SIZE * DIGIT_SIZE),
        labels: samples.labels,
      },
      latest,
      hubNow: latest?.at ?? run.startedAt,
      histograms: latest?.histograms ?? null,
      filters: latest ? imageSet(latest) : null,
      revision: this.state.revision + 1,
    });
  }

  applyUpdate(update: DashboardUpdate): void {
    const previous = this.state;
    // An update before the history (or from a run this viewer has not been told about) says nothing.
    if (previous.run === null) return;
    previous.history.append(historyRow(update.point));
    previous.rounds.add(update.rounds);
    previous.workerRates.add(update.point.t, update.workers);
    previous.refusalRates.add(update.point.t, update.refusals);
    this.set({
      ...previous,
      latest: update,
      hubNow: update.at,
      histograms: update.histograms ?? previous.histograms,
      filters: imageSet(update) ?? previous.filters,
      revision: previous.revision + 1,
      updates: previous.updates + 1,
    });
  }

  private set(state: DashboardState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}

function imageSet(update: DashboardUpdate): ImageSet | null {
  const filters = update.filters;
  if (!filters) return null;
  return {
    title: filters.title,
    width: filters.width,
    height: filters.height,
    images: splitImages(filters.pixels, filters.count, filters.width * filters.height),
  };
}
