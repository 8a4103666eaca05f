/**
 * The Markdown table, the cell formatters and the section (heading, then tables or why they are
 * missing) that every figure of `npm run bench` prints with. Apart from the figures so that they all
 * format alike, and from table.ts, which only puts the figures in order.
 */
import type { BenchResults } from './results.js';

export type Cell = string | number | null | undefined;

/** The phases whose results are figures: each a field of BenchResults, null when it did not run. */
type FigurePhase =
  | 'transport'
  | 'apply'
  | 'workerOverhead'
  | 'timeToAccuracy'
  | 'volunteers'
  | 'compression'
  | 'gateways'
  | 'coordinatorCost'
  | 'scale'
  | 'syncLrScaling'
  | 'dashboard';

/** A figure's lines: its heading, then its tables from the phase's result, or why there is none. */
export function section<P extends FigurePhase>(
  r: BenchResults,
  phase: P,
  heading: string,
  tables: (result: NonNullable<BenchResults[P]>) => string[],
): string[] {
  const result = r[phase];
  return [heading, ...(result ? tables(result as NonNullable<BenchResults[P]>) : [missing(r, phase)])];
}

/** A Markdown table with padded columns; numbers right-aligned, text left-aligned; null shows as '-'. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))),
  );
  const numeric = headers.map((_, c) => text.every((row) => /^-?[\d,.]+$|^-$/.test(row[c] ?? '')));
  const widths = headers.map((h, c) => Math.max(h.length, ...text.map((row) => (row[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (numeric[c] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...text.map(line)].join('\n');
}

export function fixed(value: number | null | undefined, digits: number): string | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function bytes(value: number | null): string | null {
  return value === null || !Number.isFinite(value) ? null : Math.round(value).toLocaleString('en-US');
}

export function count(value: number | null): string | null {
  return value === null ? null : value.toLocaleString('en-US');
}

function missing(r: BenchResults, phase: string): string {
  return r.errors[phase] ? `failed: ${r.errors[phase]}` : '(not run)';
}
