import type { StepPacer } from '../stepPacer.js';
import { DutyCycle } from './dutyCycle.js';
import type { Wait } from './restTimer.js';

export interface DutyPacerOptions {
  /** The share of time work may take now, 0..1 (the volunteer's cpu setting, after any backoff). */
  readonly share: () => number;
  /** Rests `ms` unless the signal aborts first (restTimer.ts: not throttled in a hidden tab). */
  readonly wait: Wait;
  /** Lets the page breathe after the rest (yieldToPage). */
  readonly yieldToPage: () => Promise<void>;
  readonly now?: () => number;
}

/**
 * The duty cycle in the training loop: between two steps, rest as long as dutyCycle.ts says, then
 * let the page breathe. The rest ends early when the session ends (interrupt) or the setting
 * changes (also interrupt: the next step rests by the new share).
 */
export class DutyPacer implements StepPacer {
  private readonly options: DutyPacerOptions;
  private readonly now: () => number;
  private readonly cycle: DutyCycle;
  private resting: AbortController | null = null;

  constructor(options: DutyPacerOptions) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.cycle = new DutyCycle(this.now());
  }

  readonly between = async (): Promise<void> => {
    const rest = this.cycle.workEnded(this.now(), this.options.share());
    if (rest > 0) {
      const resting = new AbortController();
      this.resting = resting;
      try {
        await this.options.wait(rest, resting.signal);
      } finally {
        if (this.resting === resting) this.resting = null;
      }
    }
    await this.options.yieldToPage();
    this.cycle.workStarts(this.now());
  };

  restart(): void {
    this.cycle.restart(this.now());
  }

  interrupt(): void {
    this.resting?.abort();
  }

  /** Work's share of the last few seconds, as measured; null before any. */
  measuredShare(): number | null {
    return this.cycle.measuredShare(this.now());
  }
}
