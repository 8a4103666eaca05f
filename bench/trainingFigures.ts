/**
 * The figures of `npm run bench` on training itself: time to accuracy (4), compression's bytes and
 * accuracy (6), and the sync rounds' learning rate (9). Apart from table.ts, which only puts the
 * figures in order, so that each group of figures formats in a file of its own.
 */
import { GOALS, met } from './goals.js';
import { bytes, count, fixed, section, table, type Cell } from './markdownTable.js';
import type { BenchResults, CompressionRow, SyncLrScalingResult } from './results.js';

/** Figure 4: test accuracy reached through a hub of each mode against one tab alone. */
export function timeToAccuracyFigure(r: BenchResults): string[] {
  return section(
    r,
    'timeToAccuracy',
    `## 4. Time to accuracy (goal: hub/local <= ${GOALS.timeToAccuracyRatioAtMost})`,
    (t) => {
      const out: string[] = [];
      const arm = (name: string, a: typeof t.local, ratioToLocal?: number | null): Cell[] => [
        name,
        fixed(a.seconds, 1),
        a.examples === null ? null : a.examples.toLocaleString('en-US'),
        `${a.reached}/${a.runs}`,
        ratioToLocal === undefined ? '' : fixed(ratioToLocal, 2),
        ratioToLocal === undefined ? '' : met(ratioToLocal, (v) => v <= GOALS.timeToAccuracyRatioAtMost),
      ];
      out.push(
        table(
          [
            `arm (to test accuracy ${t.target}, twice in a row)`,
            'seconds',
            'examples',
            'reached',
            'hub/local',
            'goal met',
          ],
          [
            ...t.hubs.map((h) => arm(`${t.hubTabs} tabs through a ${h.mode} hub`, h.hub, h.ratio)),
            arm('1 tab locally', t.local),
          ],
        ),
      );
      out.push(
        `backend ${t.backend}; test accuracy on ${t.testExamples.toLocaleString('en-US')} examples.` +
          (t.note ? ` ${t.note}.` : ''),
      );
      return out;
    },
  );
}

/** Figure 6: each compression scheme's wire bytes and accuracy against float32. */
export function compressionFigure(r: BenchResults): string[] {
  return section(
    r,
    'compression',
    '## 6. Compression (goal: <= 0.5x the bytes, accuracy within 0.3 points)',
    (c) => {
      const out: string[] = [];
      out.push(
        table(
          [
            'scheme',
            'wire bytes/push',
            'x float32',
            `test accuracy @ ${c.examples.toLocaleString('en-US')} examples`,
            'points vs float32',
            'goal met',
            'note',
          ],
          c.rows.map((row, i) => [
            row.scheme,
            bytes(row.wireBytesPerPush),
            fixed(row.bytesRatio, 2),
            fixed(row.testAccuracy, 4),
            fixed(row.accuracyDeltaPoints, 2),
            i === 0 ? '(baseline)' : compressionMet(row),
            row.note ?? '',
          ]),
        ),
      );
      out.push(
        `${c.model} (float32 gradient ${bytes(c.rows[0]?.float32GradientBytes ?? null)} B), one Node worker, ` +
          `same initial weights and data order per scheme; test accuracy on ${c.testExamples.toLocaleString('en-US')} examples.`,
      );
      return out;
    },
  );
}

function compressionMet(row: CompressionRow): string {
  if (!row.implemented || row.bytesRatio === null || row.accuracyDeltaPoints === null) return '-';
  const smaller = row.bytesRatio <= GOALS.compressionBytesRatioAtMost;
  const asAccurate = Math.abs(row.accuracyDeltaPoints) <= GOALS.compressionAccuracyPointsWithin;
  return smaller && asAccurate ? 'yes' : 'no';
}

/** Figure 9: a sync round's learning rate x workers, x sqrt(workers) or not, per optimizer. */
export function syncLrScalingFigure(r: BenchResults): string[] {
  return section(
    r,
    'syncLrScaling',
    '## 9. Sync rounds: the learning rate x workers or not, per optimizer (issue 14; no goal set)',
    syncLrScalingTable,
  );
}

function syncLrScalingTable(s: SyncLrScalingResult): string[] {
  const rows: Cell[][] = [];
  for (const row of s.rows) {
    const arms = [
      ['lr x N', row.linear],
      ['lr x sqrt(N)', row.sqrt],
      ['lr', row.none],
    ] as const;
    for (const [rate, arm] of arms) {
      if (arm === null) continue;
      rows.push([
        row.workers,
        `${row.optimizer} ${row.learningRate}`,
        rate,
        fixed(arm.accuracy, 4),
        'errorRatioToNone' in arm ? fixed(arm.errorRatioToNone, 2) : '(baseline)',
        count(arm.examplesToTarget),
        fixed(arm.rounds, 0),
        arm.samples.map((x) => x.toFixed(4)).join(', '),
      ]);
    }
  }
  return [
    table(
      [
        'workers',
        'optimizer',
        'round rate',
        'test accuracy',
        'error / lr arm',
        `examples to ${s.target}`,
        'rounds',
        'samples',
      ],
      rows,
    ),
    `${s.model}, batch ${s.batchSize} per worker, test accuracy on ${s.testExamples.toLocaleString('en-US')} ` +
      `examples after ${s.examples.toLocaleString('en-US')} training examples (median of ${s.reps}), and ` +
      `every ${s.everyExamples.toLocaleString('en-US')}: the examples to ${s.target} held twice in a row ` +
      "('-': not reached). Error / lr arm below 1: the scaled rate gains accuracy.",
  ];
}
