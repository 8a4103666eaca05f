/** Number and time formatting for the dashboard: short, unit-bearing, stable width where it matters. */

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

/** 12,345 */
export function formatInteger(value: number): string {
  return integer.format(value);
}

/** Rates: 1,234 for big ones, 12.3 for small ones, 0 for none. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0';
  if (perSecond >= 100) return integer.format(perSecond);
  if (perSecond >= 10) return perSecond.toFixed(1);
  return perSecond.toFixed(2);
}

/** 0.9731 -> "97.31 %"; null -> "-". */
export function formatPercent(fraction: number | null, digits = 2): string {
  return fraction === null ? '-' : `${(fraction * 100).toFixed(digits)} %`;
}

/** Losses and norms: four significant digits. */
export function formatDecimal(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  return Math.abs(value) >= 1000 ? integer.format(value) : value.toPrecision(4);
}

/** Learning rates and other small constants: 0.001 -> "0.001", 1e-5 -> "1e-5". */
export function formatConstant(value: number): string {
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential();
  return String(value);
}

/** Compact axis ticks: 950, 1.2k, 3.4M. */
export function formatCompact(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6) return `${trim(value / 1e6)}M`;
  if (magnitude >= 1e4) return `${trim(value / 1e3)}k`;
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toFixed(value !== 0 && Math.abs(value) < 1 ? 3 : 1)));
}

/** Bytes in decimal units, three significant digits: 512 B, 12.3 kB, 4.56 MB, 123 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toPrecision(3)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toPrecision(3)} MB`;
  return `${(bytes / 1e9).toPrecision(3)} GB`;
}

/** Elapsed seconds as a clock: 75 -> "1:15", 3725 -> "1:02:05". */
export function formatClock(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** How long ago, from two epoch-millisecond stamps: "now", "4 s ago", "3 min ago". */
export function formatAgo(then: number, now: number): string {
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 2) return 'now';
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** Wall-clock time of day of an epoch-millisecond stamp: "14:03:07". */
export function formatTimeOfDay(epochMs: number): string {
  const d = new Date(epochMs);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}
