/**
 * A dedicated worker that answers each `{ id, ms }` with `id` after `ms`: the pacer's rests
 * (restTimer.ts), timed where a hidden page's throttling does not reach.
 */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<{ id: number; ms: number }>) => void) | null;
  postMessage(message: number): void;
};

scope.onmessage = (event) => {
  const { id, ms } = event.data;
  setTimeout(() => scope.postMessage(id), ms);
};
