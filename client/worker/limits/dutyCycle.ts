/**
 * The duty cycle's arithmetic, with the clock passed in (pure: dutyCycle.test.ts drives it by hand).
 *
 * The worker alternates work (a training step) and rest (a sleep, plus whatever the page's yield took).
 * After each stretch of work it asks how long to rest so that, over the last `windowMs`, work took
 * about `share` of the time: busy / (busy + idle + sleep) = share, so sleep = busy / share - busy - idle.
 * A sliding window rather than step by step: steps vary (a pull that waited on the network, a garbage
 * collection), and rest already taken (a slow yield, a pause) counts against the next sleep.
 */

/** Long enough to even out a few steps; short enough that a changed setting shows within seconds. */
export const DUTY_WINDOW_MS = 5_000;
/**
 * The longest single rest. A slow step at a low share would otherwise rest for a minute, longer than
 * the hub's lease timeout (60 s by default) allows a silent worker to keep its unit.
 */
export const MAX_REST_MS = 20_000;

interface Stretch {
  readonly start: number;
  readonly end: number;
  readonly busy: boolean;
}

/** The rest that brings `busyMs` of work in `busyMs + idleMs` down to `share`; 0 when it already is. */
export function restToReach(busyMs: number, idleMs: number, share: number): number {
  if (!(share > 0) || share >= 1) return 0;
  return Math.max(0, busyMs / share - busyMs - idleMs);
}

export class DutyCycle {
  private readonly windowMs: number;
  private stretches: Stretch[] = [];
  /** When the current stretch of work began; null while resting. */
  private workSince: number | null;
  /** When the current rest began; null while working. */
  private restSince: number | null = null;
  /** The stretch since restart() is joining the hub, not training: not counted. */
  private joining = false;

  constructor(now: number, windowMs = DUTY_WINDOW_MS) {
    this.windowMs = windowMs;
    this.workSince = now;
  }

  /**
   * Forget the past: a new connection. Its first stretch (the hello, the known-answer check, the first
   * unit's download: mostly waiting on the network) is not paced: counted as work, it would buy a rest
   * of many seconds before the first real step (measured: 10 s at 12.5%).
   */
  restart(now: number): void {
    this.stretches = [];
    this.workSince = now;
    this.restSince = null;
    this.joining = true;
  }

  /** A stretch of work ended at `now`: how long to rest (ms) to keep work at `share` of the window. */
  workEnded(now: number, share: number): number {
    if (this.joining) {
      this.joining = false;
      this.workSince = null;
      this.restSince = now;
      return 0;
    }
    if (this.workSince !== null) this.add({ start: this.workSince, end: now, busy: true });
    this.workSince = null;
    this.restSince = now;
    const { busy, idle } = this.totals(now);
    return Math.min(MAX_REST_MS, restToReach(busy, idle, share));
  }

  /** Work starts again at `now`: the time since workEnded was rest. */
  workStarts(now: number): void {
    if (this.restSince === null) return;
    this.add({ start: this.restSince, end: now, busy: false });
    this.restSince = null;
    this.workSince = now;
  }

  /** Work's share of the window ending at `now`, as measured (for the page and the tests). */
  measuredShare(now: number): number | null {
    const { busy, idle } = this.totals(now);
    return busy + idle > 0 ? busy / (busy + idle) : null;
  }

  private add(stretch: Stretch): void {
    if (stretch.end > stretch.start) this.stretches.push(stretch);
  }

  /**
   * Busy and idle time of the stretches that end within the last `windowMs`, whole, starting with
   * work: each rest is counted with the work it paid for, so a run of steps at the share asks for
   * exactly the share again (clipping the window's first stretch would make rests alternate long and
   * none). A step longer than the window is counted in full too: a slow model pays for all of it.
   */
  private totals(now: number): { busy: number; idle: number } {
    const from = now - this.windowMs;
    while (this.stretches.length > 0 && (this.stretches[0].end <= from || !this.stretches[0].busy)) {
      this.stretches.shift();
    }
    let busy = 0;
    let idle = 0;
    for (const s of this.stretches) {
      if (s.busy) busy += s.end - s.start;
      else idle += s.end - s.start;
    }
    return { busy, idle };
  }
}
