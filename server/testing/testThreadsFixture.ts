/** A module for testThreads.test.ts to run in TestThreads. */
import { threadId } from 'node:worker_threads';

/** Which thread ran the call, after `ms`. */
export async function whichThread(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return threadId;
}

export async function fails(message: string): Promise<never> {
  throw new Error(message);
}

export const NOT_A_FUNCTION = 1;
