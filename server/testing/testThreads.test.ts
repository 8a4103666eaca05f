import { threadId } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { TestThreads } from './testThreads.js';

const FIXTURE = new URL('./testThreadsFixture.ts', import.meta.url);

it('runs calls two at a time on threads of their own, passes errors back, and refuses calls after close', async () => {
  const threads = await TestThreads.start<typeof import('./testThreadsFixture.js')>(FIXTURE, 2);
  try {
    const began = performance.now();
    const ran = await Promise.all([300, 300, 300, 300].map((ms) => threads.call('whichThread', ms)));
    // Four calls of 300 ms on two threads: two rounds, each thread took two calls.
    expect(performance.now() - began).toBeLessThan(1_100);
    expect(new Set(ran).size).toBe(2);
    expect(ran).not.toContain(threadId);
    await expect(threads.call('fails', 'on purpose')).rejects.toThrow(/in a test thread: Error: on purpose/);
    // The thread that failed a call takes the next one.
    expect(await Promise.all([threads.call('whichThread', 0), threads.call('whichThread', 0)])).toHaveLength(
      2,
    );
  } finally {
    await threads.close();
  }
  await expect(threads.call('whichThread', 0)).rejects.toThrow('closed');
});
