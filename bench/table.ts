/**
 * `npm run bench`'s printed results: the run's header, every figure in order, then the phases that
 * failed. Each group of figures formats in a file of its own (hotPathFigures, trainingFigures,
 * capacityFigures, scaleFigures), with the Markdown table and cells of markdownTable.
 */
import { coordinatorCostFigure, gatewaysFigure, volunteersFigure } from './capacityFigures.js';
import { dashboardFigure } from './dashboardTable.js';
import { applyFigure, transportFigure, workerOverheadFigure } from './hotPathFigures.js';
import type { BenchResults } from './results.js';
import { scaleFigure } from './scaleFigures.js';
import { compressionFigure, syncLrScalingFigure, timeToAccuracyFigure } from './trainingFigures.js';

export { table } from './markdownTable.js';

/** Every figure in the order printed, each a heading and its tables (or why it is missing). */
const FIGURES: readonly ((r: BenchResults) => string[])[] = [
  transportFigure,
  applyFigure,
  workerOverheadFigure,
  timeToAccuracyFigure,
  volunteersFigure,
  compressionFigure,
  gatewaysFigure,
  coordinatorCostFigure,
  scaleFigure,
  syncLrScalingFigure,
  dashboardFigure,
];

/** The results as the tables `npm run bench` prints (Markdown, so they paste into notes as they are). */
export function renderResults(r: BenchResults): string {
  const out: string[] = [];
  out.push(
    `# npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}: ${r.startedAt}, ${r.durationSec.toFixed(0)} s`,
    `${r.machine.cpus} x ${r.machine.cpuModel}; Node ${r.machine.node}; ${r.machine.chromium ?? 'no Chromium'}; ` +
      `commit ${r.git ? `${r.git.commit.slice(0, 10)}${r.git.dirty ? ' + uncommitted changes' : ''}` : 'unknown'}`,
    'Each ratio compares two arms measured in turns in this run (medians of the repetitions).',
    '',
  );
  FIGURES.forEach((figure, i) => {
    if (i > 0) out.push('');
    out.push(...figure(r));
  });

  const failures = Object.entries(r.errors);
  if (failures.length > 0) {
    out.push('', '## Failed phases');
    for (const [phase, message] of failures) out.push(`- ${phase}: ${message}`);
  }
  return out.join('\n');
}
