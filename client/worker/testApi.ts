import type { WorkerView } from './BrowserWorker.js';
import { breakFilterGradients } from './brokenKernel.js';
import type { LimitsView } from './limits/Limits.js';
import type { LimitSettings } from './limits/settings.js';
import { forgetIdentity } from './volunteerIdentity.js';
import type { VolunteerTab } from './volunteerTab.js';

/**
 * What end-to-end tests (and a curious person in the console) can do with the tab:
 * `window.__worker.status()` and friends. Plain data in and out, so Playwright's `page.evaluate` can
 * carry it.
 */
export interface WorkerTestApi {
  status(): WorkerView;
  pause(): void;
  resume(): void;
  /** The volunteer's limits now, and the duty cycle's share as measured over the last seconds. */
  limits(): LimitsView & { readonly measuredShare: number | null };
  /** As the page's controls do (remembered). */
  setLimits(patch: Partial<LimitSettings>): void;
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

export function exposeTestApi(tab: VolunteerTab): void {
  const { worker, limits } = tab;
  window.__worker = {
    status: () => worker.getSnapshot(),
    pause: () => worker.pause(),
    resume: () => worker.resume(),
    limits: () => ({ ...limits.getSnapshot(), measuredShare: tab.measuredShare() }),
    setLimits: (patch) => limits.set(patch),
    loseDevice: () => worker.loseDevice(),
    breakGradients: (backend) => breakFilterGradients(backend),
    forgetIdentity: () => forgetIdentity(worker.getSnapshot().hub),
  };
}
