import { yieldToPage } from './yieldToPage.js';

/**
 * What the training loop awaits between steps (GradientWorker's `yieldBetweenSteps`), with the two
 * signals a pacer that sleeps on purpose needs (limits/DutyPacer.ts): a session started (time before
 * it was no work) and the session is ending (a sleep in progress should end now).
 */
export interface StepPacer {
  between(): Promise<void>;
  restart(): void;
  interrupt(): void;
}

/** No limit: only let the page breathe. */
export const UNPACED: StepPacer = {
  between: yieldToPage,
  restart: () => undefined,
  interrupt: () => undefined,
};
