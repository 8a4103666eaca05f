/**
 * Column storage for the dashboard's charts: parallel arrays, one per series, in the shape uPlot
 * draws (`[x, y1, y2, ...]`). Appending is O(1); when a set of columns outgrows its capacity every
 * other row is dropped in place (as the hub's history does), so a long run stays visible whole, at an
 * even resolution, in bounded memory.
 */
export type Column = (number | null)[];

/** Drops every other row of `columns` (keeping the first and, as the newest, the last), in place. */
export function halveRows(columns: readonly Column[]): void {
  for (const column of columns) {
    const last = column.length - 1;
    let kept = 0;
    for (let i = 0; i <= last; i++) {
      if (i % 2 === 0 || i === last) column[kept++] = column[i];
    }
    column.length = kept;
  }
}

/** Parallel columns of a fixed count, appended row by row, at most `capacity` rows. */
export class BoundedColumns {
  readonly columns: Column[];

  constructor(
    width: number,
    private readonly capacity: number,
  ) {
    if (capacity < 4) throw new RangeError('capacity must be at least 4');
    this.columns = Array.from({ length: width }, () => []);
  }

  get length(): number {
    return this.columns[0]?.length ?? 0;
  }

  /** Appends one row (`row[i]` goes to column i; missing values are null). */
  append(row: readonly (number | null)[]): void {
    this.columns.forEach((column, i) => column.push(row[i] ?? null));
    if (this.length > this.capacity) halveRows(this.columns);
  }

  /** The last value of column `index`, or null. */
  last(index: number): number | null {
    const column = this.columns[index];
    return column.length > 0 ? column[column.length - 1] : null;
  }
}
