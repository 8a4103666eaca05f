import type { BrowserWorker, WorkerView } from './BrowserWorker.js';
import { breakFilterGradients } from './brokenKernel.js';

/**
 * What end-to-end tests (and a curious person in the console) can do with the tab:
 * `window.__worker.status()` and friends. Plain data in and out, so Playwright's `page.evaluate` can
 * carry it.
 */
export interface WorkerTestApi {
  status(): WorkerView;
  pause(): void;
  resume(): void;
  /** Destroys the WebGPU device in use, as a lost GPU would; false when not on WebGPU. */
  loseDevice(): boolean;
  /** Makes `backend` compute all-zero filter gradients from now on (see brokenKernel.ts). */
  breakGradients(backend: string): boolean;
  /** Forgets the volunteer identity this page keeps: its next connection is a newcomer's. */
  forgetIdentity(): void;
}

declare global {
  interface Window {
    __worker?: WorkerTestApi;
  }
}

export function exposeTestApi(worker: BrowserWorker): void {
  window.__worker = {
    status: () => worker.getSnapshot(),
    pause: () => worker.pause(),
    resume: () => worker.resume(),
    loseDevice: () => worker.loseDevice(),
    breakGradients: (backend) => breakFilterGradients(backend),
    forgetIdentity: () => localStorage.clear(),
  };
}
