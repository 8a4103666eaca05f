import type { WorkerRow } from '../../shared/dashboardProtocol.js';
import { halveRows, type Column } from './columns.js';

/** Lines drawn one per worker; the rest share one line: their mean. */
export const MAX_WORKER_LINES = 8;

export interface WorkerLine {
  readonly id: string;
  readonly label: string;
}

/**
 * Examples/s of each worker over time, as seen by this viewer (the hub keeps no per-worker history).
 * At most MAX_WORKER_LINES workers get a line of their own, in the order they appear, and keep it
 * while they are connected; a line of a worker that left is recycled for a newcomer. Whatever is not
 * drawn alone is averaged into `others`: a mean stays on the scale of the single lines, where the sum of
 * 42 workers would flatten them against the axis (the throughput chart has the total).
 */
export class WorkerRates {
  /** Seconds since the run started. */
  readonly t: number[] = [];
  private lines: { line: WorkerLine; values: Column }[] = [];
  readonly others: Column = [];
  private hasOthers = false;
  /** Changes whenever the set of lines changes (a chart then rebuilds its series). */
  private linesKey = '';

  constructor(private readonly capacity: number) {}

  get key(): string {
    return this.linesKey;
  }

  get shown(): readonly WorkerLine[] {
    return this.lines.map((l) => l.line);
  }

  /** `[t, line 1, ..., line n, others?]`, as uPlot takes it; columns are shared, not copied. */
  get columns(): Column[] {
    const columns: Column[] = [this.t, ...this.lines.map((l) => l.values)];
    if (this.hasOthers) columns.push(this.others);
    return columns;
  }

  get showsOthers(): boolean {
    return this.hasOthers;
  }

  /** Adds one sample: the workers connected at `t` and their rates. O(workers). */
  add(t: number, workers: readonly WorkerRow[]): void {
    const byId = new Map(workers.map((w) => [w.id, w]));
    let changed = false;
    // Recycle the lines of workers that left, as long as someone is waiting for a line.
    const waiting = workers.filter((w) => !this.lines.some((l) => l.line.id === w.id));
    let free = MAX_WORKER_LINES - this.lines.length;
    for (let i = 0; i < this.lines.length && free < waiting.length; i++) {
      if (byId.has(this.lines[i].line.id)) continue;
      this.lines.splice(i--, 1);
      free++;
      changed = true;
    }
    while (this.lines.length < MAX_WORKER_LINES && waiting.length > 0) {
      const worker = waiting.shift() as WorkerRow;
      this.lines.push({
        line: { id: worker.id, label: `${worker.id} (${worker.backend})` },
        values: new Array<number | null>(this.t.length).fill(null),
      });
      changed = true;
    }
    this.t.push(t);
    for (const { line, values } of this.lines) values.push(byId.get(line.id)?.examplesPerSec ?? null);
    let rest = 0;
    for (const worker of waiting) rest += worker.examplesPerSec;
    this.others.push(waiting.length > 0 ? rest / waiting.length : null);
    if (waiting.length > 0 && !this.hasOthers) {
      this.hasOthers = true;
      changed = true;
    }
    if (changed) this.linesKey = `${this.lines.map((l) => l.line.id).join('|')}|${this.hasOthers}`;
    if (this.t.length > this.capacity) halveRows([this.t, this.others, ...this.lines.map((l) => l.values)]);
  }
}
