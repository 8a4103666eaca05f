/**
 * Remembers the outcome of recent pushes by id, so that a push retried after a reconnect (its ack was
 * lost with the connection) is answered with the first outcome instead of being applied again.
 * Refused pushes are forgotten: fixing and resending them is allowed. Bounded: the oldest ids go first.
 */
export class PushLedger<R> {
  private readonly outcomes = new Map<string, Promise<R>>();
  /** Outcomes not settled yet (applying, or waiting for their round), for `settled`. */
  private readonly pending = new Set<Promise<R>>();

  constructor(private readonly capacity = 10_000) {}

  get size(): number {
    return this.outcomes.size;
  }

  /** The outcome of `pushId` if it was seen, else runs `apply` once and remembers its outcome. */
  once(pushId: string, apply: () => Promise<R>): { outcome: Promise<R>; duplicate: boolean } {
    const known = this.outcomes.get(pushId);
    if (known) return { outcome: known, duplicate: true };
    const outcome = apply();
    this.outcomes.set(pushId, outcome);
    this.pending.add(outcome);
    const settle = () => this.pending.delete(outcome);
    outcome.then(settle, settle);
    outcome.catch(() => {
      if (this.outcomes.get(pushId) === outcome) this.outcomes.delete(pushId);
    });
    if (this.outcomes.size > this.capacity) {
      // Maps iterate in insertion order: the first key is the oldest.
      this.outcomes.delete(this.outcomes.keys().next().value as string);
    }
    return { outcome, duplicate: false };
  }

  /** Resolves once every push run so far (and any run meanwhile) has its outcome. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
