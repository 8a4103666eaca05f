import type { BackendChoice } from './backends.js';
import { BrowserWorker } from './BrowserWorker.js';
import { DutyPacer } from './limits/DutyPacer.js';
import { Limits } from './limits/Limits.js';
import { browserLimitsEnvironment } from './limits/limitsEnvironment.js';
import { workerWait } from './limits/restTimer.js';
import { browserStorage, limitsFromQuery, rememberedLimits, resolveLimits } from './limits/settings.js';
import { loadDisplayName, saveDisplayName } from './volunteerName.js';
import { yieldToPage } from './yieldToPage.js';

export interface VolunteerTab {
  readonly worker: BrowserWorker;
  readonly limits: Limits;
  /** The display name sent with each hello; changing it joins the hub again at once. */
  displayName(): string | null;
  setDisplayName(name: string): void;
  /** The duty cycle's share of the last few seconds, as measured; null before any step. */
  measuredShare(): number | null;
}

/**
 * A worker under the volunteer's limits (the /worker page and the /embed card alike): the limits
 * from the link, else as remembered, else the defaults; a duty-cycle pacer between steps; a hold
 * whenever a limit says so. The worker is not started here.
 */
export function createVolunteerTab(options: {
  readonly hubUrl: string;
  readonly choice: BackendChoice;
  readonly search: string;
}): VolunteerTab {
  const query = limitsFromQuery(options.search);
  const settings = resolveLimits(rememberedLimits(browserStorage()), query.limits);
  const limits = new Limits(browserLimitsEnvironment(), settings, query.problems);
  const pacer = new DutyPacer({ share: limits.share, wait: workerWait(), yieldToPage });
  let name = loadDisplayName();
  const worker = new BrowserWorker({
    hubUrl: options.hubUrl,
    choice: options.choice,
    pacer,
    displayName: () => name,
  });
  let share = limits.share();
  limits.subscribe(() => {
    const view = limits.getSnapshot();
    // A rest under the old share would keep a raised limit from showing for up to MAX_REST_MS.
    if (view.share !== share) pacer.interrupt();
    share = view.share;
    worker.hold(view.hold);
  });
  void limits.start();
  return {
    worker,
    limits,
    displayName: () => name,
    measuredShare: () => pacer.measuredShare(),
    setDisplayName(next) {
      const changed = (next === '' ? null : next) !== name;
      name = next === '' ? null : next;
      saveDisplayName(next);
      if (changed)
        worker.rejoin(`display name ${name === null ? 'removed' : `"${name}"`}: joining the hub again`);
    },
  };
}
