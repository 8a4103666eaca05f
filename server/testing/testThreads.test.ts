import { threadId } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { TestThreads } from './testThreads.js';

const FIXTURE = new URL('./testThreadsFixture.ts', import.meta.url);

it('runs calls two at a time on threads of their own, passes errors back, and refuses calls after close', async () => {
  const threads = await TestThreads.start<typeof import('./testThreadsFixture.js')>(FIXTURE, 2);
  try {
    const ran = await Promise.all([200, 200, 200, 200].map((ms) => threads.call('whichThread', ms)));
    // Two threads, neither of them this one, each took two of the four calls.
    const ids = ran.map((r) => r.threadId);
    expect(new Set(ids).size).toBe(2);
    expect(ids).not.toContain(threadId);
    for (const id of new Set(ids)) expect(ids.filter((i) => i === id)).toHaveLength(2);
    // The first two ran at the same time; the last two each after one of them (to within a few ms:
    // each thread's clock starts from its own time origin).
    expect(ran[1].began).toBeLessThan(ran[0].ended);
    expect(Math.min(ran[2].began, ran[3].began)).toBeGreaterThan(Math.min(ran[0].ended, ran[1].ended) - 5);
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
