/**
 * What the worker awaits between steps. While the tab is visible: the next animation frame, so the
 * page stays smooth. While it is hidden: a plain task (MessageChannel), because browsers stop
 * animation frames in background tabs (the loop would stall until the tab is shown again) and
 * throttle timers there, but deliver messages at once. A tab hidden while waiting for a frame is let
 * go by the visibilitychange event.
 */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => {
    if (document.visibilityState !== 'visible') {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
      return;
    }
    const done = () => {
      document.removeEventListener('visibilitychange', done);
      resolve();
    };
    document.addEventListener('visibilitychange', done);
    requestAnimationFrame(done);
  });
}
