import type { WorkerView } from '../workerView.js';

/** The last few things the tab did, newest first. */
export function EventsLog({ view }: { view: WorkerView }) {
  const recent = view.events.slice(-8).reverse();
  return (
    <section>
      <h2>Log</h2>
      <ul className="events" data-testid="events">
        {recent.map((e, i) => (
          <li key={`${e.at}-${i}`}>
            <time>{new Date(e.at).toLocaleTimeString('en-GB')}</time> {e.text}
          </li>
        ))}
      </ul>
    </section>
  );
}
