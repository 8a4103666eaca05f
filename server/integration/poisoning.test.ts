import { afterAll, beforeAll, expect, it } from 'vitest';
import type { HubOptions } from '../options.js';
import { RECONNECT_EVERY, type Attack } from '../testing/poisoningRun.js';
import { TestThreads } from '../testing/testThreads.js';

/**
 * Four volunteers, one of them hostile, over real sockets with real MNIST gradients (one run:
 * server/testing/poisoningRun.ts). The defence is measured: the same run with plain averaging is
 * shown to fail. The ten runs are independent, so they run two at a time, each in a thread of its
 * own (its own TF.js, hub and sockets), and the tests run concurrently to keep both threads busy.
 * The model is the mlp: the attacks and the defences act on gradients whatever the layers, and its
 * runs take half the time of cnn's (60-65 s for the file against 114 s, here), with the same margins
 * (measured with mlp: sync clean 0.9285, mean 0.1135, median 0.9069, median + trust 0.9249; async
 * noise: clean 0.9299, undefended 0.113, defended 0.928-0.929).
 */
/** Examples behind the updates of one run: 400 batches of 64. */
const EXAMPLES = 25_600;

let threads: TestThreads<typeof import('../testing/poisoningRun.js')>;
beforeAll(async () => {
  threads = await TestThreads.start(new URL('../testing/poisoningRun.ts', import.meta.url), 2);
});
afterAll(() => threads?.close());

/** One run, on the next free thread: the test accuracy after `examples` examples. */
const run = (options: Partial<HubOptions>, kind: Attack | null, examples: number): Promise<number> =>
  threads.call('run', options, kind, examples);

/** The defended runs reach within this of the clean run (the target: 1 point). */
const DEFENDED_WITHIN = 0.01;
/** Honest mlp gradients of 64 examples here have norms of 0.2-3.0 (median 1.2): a bar above that. */
const CLIP_NORM = 5;

/** Each test waits for its runs behind the others' in the threads' queue: ten runs, two at a time. */
const TIMEOUT_MS = 900_000;

it.concurrent(
  'sync: median + trust hold off a worker pushing -10x its gradient; plain averaging collapses',
  async () => {
    const [clean, plain, medianOnly, defended] = await Promise.all([
      run({ mode: 'sync', aggregate: 'mean' }, null, EXAMPLES),
      run({ mode: 'sync', aggregate: 'mean' }, 'flip', EXAMPLES),
      run({ mode: 'sync', aggregate: 'median' }, 'flip', EXAMPLES),
      run({ mode: 'sync', aggregate: 'median', trust: true, clipNorm: CLIP_NORM }, 'flip', EXAMPLES),
    ]);
    console.log(
      `  sync, -10x: clean ${clean.toFixed(4)}, mean ${plain.toFixed(4)}, median alone ${medianOnly.toFixed(4)}, ` +
        `median + trust ${defended.toFixed(4)}`,
    );
    expect(clean).toBeGreaterThan(0.88);
    expect(plain).toBeLessThan(0.3);
    // The median alone keeps the run on course (its examples include the hostile worker's, so it
    // trails); with the trust score the hostile gradients are refused outright.
    expect(medianOnly).toBeGreaterThanOrEqual(clean - 0.04);
    expect(defended).toBeGreaterThanOrEqual(clean - DEFENDED_WITHIN);
  },
  TIMEOUT_MS,
);

/** The clean async run, measured once for the two async tests. */
let cleanAsync: Promise<number> | null = null;
const cleanAsyncRun = () => (cleanAsync ??= run({ mode: 'async' }, null, EXAMPLES));

it.concurrent(
  'async: norm clipping and trust hold off a worker pushing large noise; no defence collapses',
  async () => {
    const [clean, plain, defended] = await Promise.all([
      cleanAsyncRun(),
      run({ mode: 'async' }, 'noise', EXAMPLES),
      run({ mode: 'async', trust: true, clipNorm: CLIP_NORM }, 'noise', EXAMPLES),
    ]);
    console.log(
      `  async, noise: clean ${clean.toFixed(4)}, undefended ${plain.toFixed(4)}, defended ${defended.toFixed(4)}`,
    );
    expect(clean).toBeGreaterThan(0.88);
    expect(plain).toBeLessThan(0.3);
    expect(defended).toBeGreaterThanOrEqual(clean - DEFENDED_WITHIN);
  },
  TIMEOUT_MS,
);

it.concurrent(
  'async: spot checks and trust hold off a worker pushing its gradient reversed at an honest norm, reconnecting or not',
  async () => {
    const defences = { trust: true, clipNorm: CLIP_NORM, spotCheck: 0.1 };
    const [clean, plain, defended, reconnecting] = await Promise.all([
      cleanAsyncRun(),
      run({ mode: 'async' }, 'reversed', EXAMPLES),
      run({ mode: 'async', ...defences }, 'reversed', EXAMPLES),
      run({ mode: 'async', ...defences }, 'reversed-reconnecting', EXAMPLES),
    ]);
    console.log(
      `  async, -1x: clean ${clean.toFixed(4)}, undefended ${plain.toFixed(4)}, ` +
        `trust + spot checks ${defended.toFixed(4)}, reconnecting every ${RECONNECT_EVERY} pushes ${reconnecting.toFixed(4)}`,
    );
    expect(clean).toBeGreaterThan(0.88);
    // The attack costs an undefended run points (mlp: 0.8993-0.9001 against 0.9299; cnn, before the
    // model here was mlp: 0.893-0.907 against 0.947-0.948, and the norm screen and trust alone,
    // without spot checks, did no better: 0.902).
    expect(plain).toBeLessThan(clean - 0.02);
    expect(defended).toBeGreaterThanOrEqual(clean - DEFENDED_WITHIN);
    // Each fresh start lets a push or two in at the address floor's weight before its first check
    // lands (mlp: 0.9243-0.9273 against 0.9299 clean; cnn: 0.9396-0.9434 against 0.9474-0.9482): a
    // little more room than the others.
    expect(reconnecting).toBeGreaterThanOrEqual(clean - 1.5 * DEFENDED_WITHIN);
  },
  TIMEOUT_MS,
);
