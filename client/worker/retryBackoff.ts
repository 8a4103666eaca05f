const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/**
 * How long to wait before the `attempt`th retry: doubling from 1 s to 30 s, with jitter so that many
 * tabs of one restarted hub do not all knock at the same instant.
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}
