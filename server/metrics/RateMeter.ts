/**
 * Events per second over a sliding window (default 10 s), e.g. examples/s of one worker. Keeps one
 * entry per recorded event inside the window, so memory is bounded by the event rate.
 */
export class RateMeter {
  private readonly events: { at: number; amount: number }[] = [];
  private total = 0;

  constructor(
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(amount: number): void {
    const at = this.now();
    this.events.push({ at, amount });
    this.total += amount;
    this.trim(at);
  }

  /** Amount per second over the window; 0 with fewer than two events. */
  perSecond(): number {
    const now = this.now();
    this.trim(now);
    if (this.events.length < 2) return 0;
    const span = (now - this.events[0].at) / 1000;
    // The first event marks the window's start; what it carried happened before it.
    return span > 0 ? (this.total - this.events[0].amount) / span : 0;
  }

  private trim(now: number): void {
    while (this.events.length > 0 && now - this.events[0].at > this.windowMs) {
      this.total -= this.events.shift()!.amount;
    }
  }
}
