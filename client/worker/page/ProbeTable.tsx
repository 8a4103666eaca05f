import type { ProbeFigure } from '../probe.js';

/** The backend probe's figures: what each backend measured, and which one the tab uses. */
export function ProbeTable({ figures, chosen }: { figures: readonly ProbeFigure[]; chosen: string | null }) {
  return (
    <section>
      <h2>Backend probe</h2>
      <div className="table-scroll">
        <table data-testid="probe">
          <thead>
            <tr>
              <th>backend</th>
              <th>ms/step</th>
              <th className="wide-only">examples/s</th>
              <th className="wide-only">first step</th>
              <th>outcome</th>
            </tr>
          </thead>
          <tbody>
            {figures.map((f) => (
              <tr key={f.backend} className={f.backend === chosen ? 'chosen' : undefined}>
                <td>{f.backend}</td>
                <td>{f.msPerStep === undefined ? '' : f.msPerStep.toFixed(0)}</td>
                <td className="wide-only">
                  {f.examplesPerSec === undefined ? '' : f.examplesPerSec.toFixed(0)}
                </td>
                <td className="wide-only">
                  {f.firstStepMs === undefined ? '' : `${f.firstStepMs.toFixed(0)} ms`}
                </td>
                <td>
                  {f.outcome}
                  {f.backend === chosen ? ' (in use)' : ''}
                  {f.note ? <span className="detail"> {f.note}</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
