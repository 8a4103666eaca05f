import { halveRows, type Column } from './columns.js';

/**
 * Refused messages per second of each error code over time, as seen by this viewer: the hub sends
 * only whole-run totals by code, so the rates are differences between consecutive updates and start
 * when the page opened. The totals are kept too, and they are what gets thinned when the columns
 * outgrow their capacity: a rate is then recomputed over the merged interval, so a burst of
 * refusals is averaged, never dropped (thinning the rates themselves would lose every other spike).
 */
export class RefusalRates {
  /** Seconds since the run started. */
  readonly t: number[] = [];
  /** Whole-run totals at each `t`, one column per code in `codes` order. */
  private readonly totals: number[][] = [];
  /** Refusals/s over the interval ending at each `t` (null on the first row), same order. */
  private readonly rates: Column[] = [];
  private readonly codeList: string[] = [];

  constructor(private readonly capacity: number) {}

  /** Every code seen so far, in the order it first appeared (the chart colours lines by this index). */
  get codes(): readonly string[] {
    return this.codeList;
  }

  /** Changes whenever a code gets a line (a chart then rebuilds its series). */
  get key(): string {
    return this.codeList.join('|');
  }

  get length(): number {
    return this.t.length;
  }

  /** `[t, code 1, ..., code n]` in refusals/s, as uPlot takes it; the arrays are shared, not copied. */
  get columns(): Column[] {
    return [this.t, ...this.rates];
  }

  /** Refusals/s of `code` over the last interval; null before there are two samples. */
  latestRate(code: string): number | null {
    const column = this.rates[this.codeList.indexOf(code)];
    return column?.at(-1) ?? null;
  }

  /** Adds one sample: the hub's totals by code at `t`. O(codes); a sample not after the last is ignored. */
  add(t: number, totals: Readonly<Record<string, number>>): void {
    const rows = this.t.length;
    if (rows > 0 && t <= this.t[rows - 1]) return;
    for (const code of Object.keys(totals)) {
      if (this.codeList.includes(code)) continue;
      // Not in the earlier totals: none refused then, so none per second either.
      this.codeList.push(code);
      this.totals.push(new Array<number>(rows).fill(0));
      this.rates.push(Array.from({ length: rows }, (_, i) => (i === 0 ? null : 0)));
    }
    const previousT = this.t[rows - 1];
    this.t.push(t);
    this.codeList.forEach((code, c) => {
      const total = totals[code] ?? 0;
      const column = this.totals[c];
      this.rates[c].push(rows === 0 ? null : rate(total, column[rows - 1], t, previousT));
      column.push(total);
    });
    if (this.t.length > this.capacity) {
      halveRows([this.t, ...this.totals]);
      this.totals.forEach((column, c) => this.recomputeRates(column, this.rates[c]));
    }
  }

  /** Refills `rates` in place (the chart holds that array) from the thinned `totals`. */
  private recomputeRates(totals: readonly number[], rates: Column): void {
    rates.length = totals.length;
    for (let i = 0; i < totals.length; i++) {
      rates[i] = i === 0 ? null : rate(totals[i], totals[i - 1], this.t[i], this.t[i - 1]);
    }
  }
}

/** Per second between two totals; never negative (the hub's totals only grow within one run). */
function rate(total: number, previous: number, t: number, previousT: number): number {
  return Math.max(0, total - previous) / (t - previousT);
}
