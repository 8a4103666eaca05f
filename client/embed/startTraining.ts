import { backendChoiceFromQuery } from '../worker/backends.js';
import { followPageLifecycle } from '../worker/pageLifecycle.js';
import { installSyncReadGuard } from '../worker/syncReadGuard.js';
import { exposeTestApi } from '../worker/testApi.js';
import { createVolunteerTab, type VolunteerTab } from '../worker/volunteerTab.js';

/**
 * The click's work: a worker under the visitor's limits (as on /worker), started. Loaded on demand by
 * the card, so a page that embeds it pays for TF.js only once someone chooses to help.
 */
export function startTraining(hubUrl: string, cpu: number): VolunteerTab {
  installSyncReadGuard();
  const tab = createVolunteerTab({
    hubUrl,
    choice: backendChoiceFromQuery(window.location.search),
    search: window.location.search,
  });
  // What the card's slider shows is what the visitor chose: it wins over a link's ?cpu=.
  tab.limits.set({ cpu });
  exposeTestApi(tab);
  followPageLifecycle(tab.worker);
  tab.worker.start();
  return tab;
}
