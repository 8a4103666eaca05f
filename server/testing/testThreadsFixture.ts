/** A module for testThreads.test.ts to run in TestThreads. */
import { threadId } from 'node:worker_threads';

/** Which thread ran the call, and when (ms since the epoch) it began and ended: `ms` later. */
export async function whichThread(ms: number): Promise<{ threadId: number; began: number; ended: number }> {
  const began = performance.timeOrigin + performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { threadId, began, ended: performance.timeOrigin + performance.now() };
}

export async function fails(message: string): Promise<never> {
  throw new Error(message);
}

export const NOT_A_FUNCTION = 1;
