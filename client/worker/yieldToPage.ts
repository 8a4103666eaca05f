/**
 * A page that waits longer than this for an animation frame is not being drawn (a background tab the
 * browser still calls visible, an occluded window, an iframe scrolled out of view): frames come every
 * 17 ms at 60 Hz and every 33 ms at the 30 Hz of a power-saving browser.
 */
const FRAME_WAIT_MAX_MS = 50;

/**
 * Set when a frame did not come within FRAME_WAIT_MAX_MS; cleared by the next frame that does come.
 * While it is set the loop does not wait for frames: in a visible tab that the browser does not draw
 * (measured in headless Chromium: a tab behind another one stays 'visible' and gets one frame per
 * second) waiting for each frame cut training from ~1,500 to 64 examples/s.
 */
let framesStalled = false;

/**
 * What the worker awaits between steps. While the tab is visible and drawn: the next animation frame,
 * so the page stays smooth. Otherwise a plain task (MessageChannel): browsers stop animation frames in
 * hidden tabs and throttle timers there (measured here: a setTimeout(0) chain ran once a second) but
 * deliver messages at once. A tab hidden while waiting for a frame is let go by visibilitychange.
 */
export function yieldToPage(): Promise<void> {
  if (document.visibilityState !== 'visible' || framesStalled) return nextTask();
  return new Promise((resolve) => {
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', finish);
      resolve();
    };
    const timer = setTimeout(() => {
      framesStalled = true;
      finish();
    }, FRAME_WAIT_MAX_MS);
    document.addEventListener('visibilitychange', finish);
    requestAnimationFrame(() => {
      framesStalled = false;
      finish();
    });
  });
}

/** Resolves in a task of its own, without the clamping and background throttling of setTimeout. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
