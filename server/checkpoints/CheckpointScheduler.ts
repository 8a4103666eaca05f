/**
 * When checkpoints are written, the same for the hub (Checkpointer) and a shard process: every
 * `intervalMs` while something changed, on request, and a last one on close. One write at a time; a
 * request during a write waits for it and writes after. What a write captures, and what counts as a
 * change, is the caller's; the caller stops its intake before `close`, so that the last write holds
 * everything it acknowledged.
 */
export class CheckpointScheduler<W> {
  private readonly timer: ReturnType<typeof setInterval>;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    intervalMs: number,
    private readonly write: () => Promise<W>,
    /** Whether anything changed since the last write that succeeded. */
    private readonly changed: () => boolean,
    private readonly log: (line: string) => void,
  ) {
    this.timer = setInterval(() => {
      if (this.changed()) {
        this.writeNow().catch((error: unknown) => this.log(`checkpoint failed: ${describe(error)}`));
      }
    }, intervalMs);
    this.timer.unref();
  }

  writeNow(): Promise<W> {
    const job = this.chain.then(() => this.write());
    this.chain = job.catch(() => undefined);
    return job;
  }

  /** Stops the timer and writes a last checkpoint if anything changed since the previous one. */
  async close(): Promise<W | null> {
    clearInterval(this.timer);
    await this.chain;
    return this.changed() ? this.writeNow() : null;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
