import type { BrowserWorker } from './BrowserWorker.js';

/**
 * Ties the worker to the Page Lifecycle (https://developer.chrome.com/docs/web-platform/page-lifecycle-api):
 * - pagehide (close, navigation, entry into the back/forward cache): leave the hub at once;
 * - pageshow from the back/forward cache: the page left the hub when it went in, so start afresh;
 * - freeze / resume (a background tab the browser stops running, and its return): leave the hub, and
 *   join it again;
 * - visibilitychange: only logged; a hidden tab keeps training.
 */
export function followPageLifecycle(worker: BrowserWorker): void {
  // pagehide, not beforeunload/unload: it fires on close, navigation and bfcache entry alike.
  window.addEventListener('pagehide', () => worker.leave());
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) window.location.reload();
  });
  // Chromium-only events, fired on the document; other browsers stop background tabs without a word,
  // and the hub's lease timeout covers those.
  document.addEventListener('freeze', () => worker.freeze());
  document.addEventListener('resume', () => worker.unfreeze());
  document.addEventListener('visibilitychange', () =>
    worker.visibilityChanged(document.visibilityState === 'hidden'),
  );
  // Opened in a background tab: hidden from the start.
  if (document.visibilityState === 'hidden') worker.visibilityChanged(true);
}
