/**
 * Figure 10 as `npm run bench` prints it: the dashboard's updates per second and its long tasks
 * while simulated volunteers push (bench/dashboard.ts measures it). A file of its own, as each group
 * of figures formats in one; table.ts only puts the figures in order.
 */
import { DASHBOARD_GOALS, met } from './goals.js';
import { fixed, section, table } from './markdownTable.js';
import type { BenchResults } from './results.js';

const { updatesPerSecAtLeast, longestTaskMsAtMost } = DASHBOARD_GOALS;

/** Figure 10: updates/s, the longest task and the time in long tasks, per window and their medians. */
export function dashboardFigure(r: BenchResults): string[] {
  return section(
    r,
    'dashboard',
    `## 10. Dashboard responsiveness while volunteers push (goal: >= ${updatesPerSecAtLeast} updates/s, ` +
      `longest task <= ${longestTaskMsAtMost} ms)`,
    (d) => {
      const perWindow = (f: (w: (typeof d.windows)[number]) => string) => d.windows.map(f).join(', ');
      return [
        table(
          ['figure', 'median', 'per window', 'goal', 'goal met'],
          [
            [
              'updates/s',
              fixed(d.updatesPerSec, 2),
              perWindow((w) => w.updatesPerSec.toFixed(2)),
              `>= ${updatesPerSecAtLeast}`,
              met(d.updatesPerSec, (v) => v >= updatesPerSecAtLeast),
            ],
            [
              'longest task ms',
              fixed(d.longestTaskMs, 0),
              perWindow((w) => w.longestTaskMs.toFixed(0)),
              `<= ${longestTaskMsAtMost}`,
              met(d.longestTaskMs, (v) => v <= longestTaskMsAtMost),
            ],
            [
              '% of time in long tasks',
              fixed(d.longTaskShare * 100, 1),
              perWindow((w) => (w.longTaskShare * 100).toFixed(1)),
              '',
              '',
            ],
            ['long tasks', '', perWindow((w) => String(w.longTasks)), '', ''],
            ['global step shown, +', '', perWindow((w) => String(w.steps)), '', ''],
          ],
        ),
        `${d.windows.length} windows of ~${d.windowSeconds} s, each from one update to the first after it ` +
          `(worst window's longest task ${fixed(d.worstLongestTaskMs, 0)} ms; 0: no task over 50 ms, the ` +
          `shortest a long task is); the hub sends one every ${d.updateIntervalMs} ms ` +
          `(${fixed(1000 / d.updateIntervalMs, 2)}/s at most). The page at ${d.viewport.width}x${d.viewport.height}, ` +
          `${d.volunteers} simulated volunteers pushing ${d.model} gradients (${fixed(d.pushesPerSec, 0)} pushes/s ` +
          `accepted, ${d.refused} refused), the hub's test evaluation every ${d.evalIntervalMs / 1000} s on ` +
          `${d.evalExamples.toLocaleString('en-US')} examples. Loading the page and its first ${d.volunteers} rows: ` +
          `${d.loadLongTasks} long tasks, longest ${fixed(d.loadLongestTaskMs, 0)} ms (not in the windows).`,
      ];
    },
  );
}
