import { Worker } from 'node:worker_threads';

/** What threadEntry.mjs posts: once loaded, then the answer to each call. */
type Reply =
  { readonly ready: true } | { readonly id: number; readonly value?: unknown; readonly error?: string };

interface Call {
  readonly id: number;
  readonly name: string;
  readonly args: readonly unknown[];
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The names of the async functions a module exports: those TestThreads can call. */
type AsyncFunctionName<M> = {
  [K in keyof M]: M[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof M] &
  string;
type Args<F> = F extends (...args: infer A) => unknown ? A : never;
type Result<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;

/**
 * A few worker threads, each with its own copy of a TypeScript module (its own TF.js backend, hubs
 * and sockets), that run the module's exported functions: for tests whose slow runs are independent
 * of each other (poisoning.test.ts), so that a 2-core machine runs two of them at a time instead of
 * one. Calls wait in one queue; each thread takes the next one when it is free. `close()` terminates
 * the threads.
 */
export class TestThreads<M> {
  private nextId = 1;
  private readonly queue: Call[] = [];
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Call>();
  private failure: Error | undefined;

  private constructor(private readonly workers: readonly Worker[]) {
    for (const worker of workers) {
      worker.on('message', (reply: Reply) => {
        if ('ready' in reply) return;
        const call = this.running.get(worker);
        this.running.delete(worker);
        if (reply.error === undefined) call?.resolve(reply.value);
        else call?.reject(new Error(`in a test thread: ${reply.error}`));
        this.idle.push(worker);
        this.dispatch();
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Error(`a test thread exited (code ${code})`)));
    }
  }

  /** `module`: the module's URL (`new URL('./x.ts', import.meta.url)`); resolves once every thread has loaded it. */
  static async start<M>(module: URL, count: number): Promise<TestThreads<M>> {
    const workers = Array.from(
      { length: count },
      () =>
        new Worker(new URL('./threadEntry.mjs', import.meta.url), { workerData: { module: module.href } }),
    );
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const onMessage = (reply: Reply) => {
              if ('ready' in reply) done(resolve);
            };
            const onError = (error: Error) => done(() => reject(error));
            const onExit = (code: number) =>
              done(() => reject(new Error(`a test thread exited (code ${code})`)));
            const done = (settle: () => void) => {
              worker.off('message', onMessage).off('error', onError).off('exit', onExit);
              settle();
            };
            worker.on('message', onMessage).on('error', onError).on('exit', onExit);
          }),
      ),
    ).catch(async (error: unknown) => {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    });
    const threads = new TestThreads<M>(workers);
    threads.idle.push(...workers);
    return threads;
  }

  /** Runs `module[name](...args)` on the next free thread; arguments and result cross by structured clone. */
  call<K extends AsyncFunctionName<M>>(name: K, ...args: Args<M[K]>): Promise<Result<M[K]>> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.queue.push({
        id: this.nextId++,
        name,
        args,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.fail(new Error('the test threads were closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      const worker = this.idle.shift() as Worker;
      const call = this.queue.shift() as Call;
      this.running.set(worker, call);
      worker.postMessage({ id: call.id, name: call.name, args: call.args });
    }
  }

  /** A thread crashed or the pool closed: every call waiting or running fails with `error`. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const call of [...this.queue.splice(0), ...this.running.values()]) call.reject(this.failure);
    this.running.clear();
  }
}
