// Entry of a TestThreads thread (testThreads.ts). Node 20 does not pass tsx's module hooks on to
// worker threads (see server/evaluation/evaluationThreadEntry.mjs), so this plain-JS file registers
// tsx inside the thread, loads the TypeScript module named in workerData, and answers calls to its
// exported functions (TestThreads sends a thread one call at a time).
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const module = await import(workerData.module);
parentPort.on('message', async ({ id, name, args }) => {
  try {
    parentPort.postMessage({ id, value: await module[name](...args) });
  } catch (error) {
    parentPort.postMessage({
      id,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
parentPort.postMessage({ ready: true });
