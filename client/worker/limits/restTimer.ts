/** Resolves after `ms`, or as soon as `signal` aborts. */
export type Wait = (ms: number, signal: AbortSignal) => Promise<void>;

/** A plain timer: fine in a visible tab, and where there are no workers (tests under Node). */
export const timeoutWait: Wait = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });

/**
 * Rests timed by a dedicated worker. A hidden tab keeps training (yieldToPage.ts), but browsers
 * throttle its timers (measured here: a setTimeout chain woken once a second; Chromium's intensive
 * throttling, after 5 minutes hidden, once a minute), which would turn a 100 ms rest into a second
 * or a minute. Timers in a dedicated worker are not throttled that way. Falls back to setTimeout
 * where a worker cannot be started.
 */
export function workerWait(): Wait {
  let timer: Worker;
  try {
    timer = new Worker(new URL('./timerWorker.ts', import.meta.url), { type: 'module' });
  } catch {
    return timeoutWait;
  }
  const waiting = new Map<number, () => void>();
  let nextId = 0;
  timer.onmessage = (event: MessageEvent<number>) => {
    waiting.get(event.data)?.();
  };
  return (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const id = nextId++;
      const done = () => {
        waiting.delete(id);
        signal.removeEventListener('abort', done);
        resolve();
      };
      waiting.set(id, done);
      signal.addEventListener('abort', done);
      timer.postMessage({ id, ms });
    });
}
