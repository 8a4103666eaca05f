import type { ReactNode } from 'react';

interface PanelProps {
  /** Stable name, also what tests look for (`[data-panel="loss"]`). */
  readonly id: string;
  readonly title: string;
  /** A line under the title: what is plotted, in words. */
  readonly note?: ReactNode;
  /** True once the panel shows live data (tests wait for every panel to be ready). */
  readonly ready: boolean;
  /** Two grid columns, or the whole row (on screens wide enough for more than one column). */
  readonly span?: 'wide' | 'full';
  /** Shown instead of the children while there is nothing to draw (e.g. "no evaluation yet"). */
  readonly empty?: string | null;
  readonly children: ReactNode;
}

/** One card of the dashboard grid. */
export function Panel({ id, title, note, ready, span, empty, children }: PanelProps) {
  return (
    <section
      className={span ? `panel ${span}` : 'panel'}
      data-panel={id}
      data-ready={ready ? 'true' : 'false'}
      aria-labelledby={`panel-${id}`}
    >
      <h2 id={`panel-${id}`}>{title}</h2>
      {note ? <p className="note">{note}</p> : null}
      {empty ? <p className="waiting">{empty}</p> : children}
    </section>
  );
}
