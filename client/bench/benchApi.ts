import type { BackendChoice, BackendName } from '../worker/backends.js';

/** What the local-training page is doing; plain data, so Playwright's `page.evaluate` can carry it. */
export interface LocalTrainerView {
  /** choosing: picking the backend; ready: waiting for start(); failed: see `detail`. */
  readonly phase: 'choosing' | 'ready' | 'training' | 'paused' | 'failed';
  readonly detail: string;
  readonly choice: BackendChoice;
  readonly backend: BackendName | null;
  readonly backendDetail: string | null;
  /** Training steps taken and examples trained on since the last fresh start. */
  readonly steps: number;
  readonly examples: number;
  readonly loss: number | null;
}

/** The model's weights after a whole step, flat in layout order, with the examples they have seen. */
export interface LocalSnapshot {
  readonly examples: number;
  readonly weights: number[];
}

/** `window.__bench`: what `npm run bench` (bench/browser.ts) calls in the page. */
export interface LocalTrainerApi {
  status(): LocalTrainerView;
  /** Starts (or resumes) training; `fresh` starts over from new random weights and step 0. */
  start(options?: { fresh?: boolean }): void;
  /** Stops after the step in flight. */
  pause(): void;
  /** The weights between two steps (taken after the step in flight, so never half-updated). */
  snapshot(): Promise<LocalSnapshot>;
}

declare global {
  interface Window {
    __bench?: LocalTrainerApi;
  }
}
