/**
 * Figure 8 of `npm run bench`, scale past these cores and past loopback: (a) worker efficiency,
 * (b) time to accuracy of N throttled tabs on links, (c) wire bytes per example. Apart from
 * table.ts, which only puts the figures in order, so that each group of figures formats in a file
 * of its own.
 */
import { met, SCALE_GOALS } from './goals.js';
import { bytes, count, fixed, section, table, type Cell } from './markdownTable.js';
import type { BenchResults, ScaleAccuracyRow, ScaleResult } from './results.js';

/** Figure 8: its three parts, each with its goal. */
export function scaleFigure(r: BenchResults): string[] {
  return section(
    r,
    'scale',
    '## 8. Scale: past these 2 cores and past loopback, per mode (issue 13)',
    scaleTables,
  );
}

function scaleTables(sc: ScaleResult): string[] {
  const out: string[] = [];
  const link = `${sc.link.name} link (${sc.link.rttMs} ms RTT, ${sc.link.upBitsPerSec / 1e6} Mbit/s up, ${sc.link.downBitsPerSec / 1e6} down)`;
  const goalMode = (mode: string, value: number | null, test: (v: number) => boolean) =>
    mode === SCALE_GOALS.mode ? met(value, test) : '';

  out.push(
    `### (a) Worker efficiency: one tab through the hub / the same tab alone, examples/s ` +
      `(goal, ${SCALE_GOALS.mode}: >= ${SCALE_GOALS.efficiencyLoopbackAtLeast} loopback, >= ${SCALE_GOALS.efficiencyLinkAtLeast} ${sc.link.name} link)`,
  );
  if (sc.efficiency) {
    const e = sc.efficiency;
    out.push(
      table(
        [
          'mode',
          'loopback /s',
          'loopback/alone',
          'goal met',
          `${sc.link.name} link /s`,
          'link/alone',
          'goal met',
          'note',
        ],
        e.rows.map((row) => [
          row.mode,
          fixed(row.loopbackExamplesPerSec, 0),
          fixed(row.loopbackRatio, 2),
          goalMode(row.mode, row.loopbackRatio, (v) => v >= SCALE_GOALS.efficiencyLoopbackAtLeast),
          fixed(row.linkExamplesPerSec, 0),
          fixed(row.linkRatio, 2),
          goalMode(row.mode, row.linkRatio, (v) => v >= SCALE_GOALS.efficiencyLinkAtLeast),
          row.error ?? '',
        ]),
      ),
    );
    out.push(
      `alone (local page, loopback): ${fixed(e.aloneExamplesPerSec, 0)} examples/s; full-speed tabs, backend ${sc.backend}, ` +
        `${e.reps} repetition(s) of ${e.seconds} s after ${e.warmupSeconds} s of warm-up; ${link}.`,
    );
  } else out.push(sc.errors.efficiency ? `failed: ${sc.errors.efficiency}` : '(not run)');
  out.push('');

  const t = sc.timeToAccuracy;
  out.push(
    `### (b) Time to ${t?.target ?? 'the target'}: N tabs at ${sc.cpuThrottle}x CPU throttling, each on a ${sc.link.name} link / one such tab alone ` +
      `(goal, ${SCALE_GOALS.mode}, ${SCALE_GOALS.eightTabs} tabs: <= ${SCALE_GOALS.eightTabsRatioAtMost})`,
  );
  if (t) {
    const rows: Cell[][] = [
      [
        'alone',
        1,
        fixed(t.alone.seconds, 1),
        count(t.alone.examples),
        `${t.alone.reached}/${t.alone.runs}`,
        '',
        '',
        '',
        '',
      ],
    ];
    for (const row of t.rows) {
      rows.push([
        row.mode,
        row.tabs,
        fixed(row.hub?.seconds, 1),
        count(row.hub?.examples ?? null),
        row.hub ? `${row.hub.reached}/${row.hub.runs}` : null,
        row.ratioBound
          ? `${row.ratioBound.side === 'above' ? '>' : '<'} ${fixed(row.ratioBound.value, 2)}`
          : fixed(row.ratio, 2),
        eightTabsMet(row),
        row.relayLateMeanMs === null
          ? null
          : `${fixed(row.relayLateMeanMs, 1)} / ${fixed(row.relayLateMaxMs, 0)}`,
        row.error ?? '',
      ]);
    }
    out.push(
      table(
        ['arm', 'tabs', 'seconds', 'examples', 'reached', 'hub/alone', 'goal met', 'relay late ms', 'note'],
        rows,
      ),
    );
    out.push(
      `Test accuracy on ${t.testExamples.toLocaleString('en-US')} examples; not reached within ${t.maxSeconds} s counts as ` +
        `not reached; the lone tab is on loopback. relay late: how far behind its link's schedule a relay wrote (busy event loop, busy cores).` +
        (sc.note ? ` ${sc.note}.` : ''),
    );
  } else
    out.push(
      sc.errors.timeToAccuracy ? `failed: ${sc.errors.timeToAccuracy}` : '(not run: no numbers of tabs)',
    );
  out.push('');

  out.push(
    `### (c) Wire bytes per training example, through (b)'s relays (goal: ${SCALE_GOALS.mode}/async <= ${SCALE_GOALS.wireLocalOverAsyncAtMost})`,
  );
  if (sc.wire) {
    const w = sc.wire;
    out.push(
      table(
        [
          'mode',
          'examples',
          'exchange up',
          'exchange down',
          'exchange B/example',
          'examples data B/example',
          'total B/example',
        ],
        w.rows.map((row) => [
          row.mode,
          count(row.examples),
          bytes(row.websocket.up),
          bytes(row.websocket.down),
          fixed(row.exchangeBytesPerExample, 1),
          fixed(row.dataBytesPerExample, 1),
          fixed(row.totalBytesPerExample, 1),
        ]),
      ),
    );
    const goal = (v: number) => v <= SCALE_GOALS.wireLocalOverAsyncAtMost;
    out.push(
      `local/async: exchange ${fixed(w.localOverAsync.exchange, 3) ?? '-'} (goal met: ${met(w.localOverAsync.exchange, goal)}), ` +
        `total ${fixed(w.localOverAsync.total, 3) ?? '-'}. Exchange: the socket.io connection (hello, leases, pulls, pushes); ` +
        `examples data: the other connections while training (the examples route, which no mode changes).`,
    );
  } else out.push('(not measured: needs (b))');

  const armErrors = Object.entries(sc.errors).filter(
    ([key]) => key !== 'efficiency' && key !== 'timeToAccuracy',
  );
  if (armErrors.length > 0) out.push('', ...armErrors.map(([arm, message]) => `- ${arm} failed: ${message}`));
  return out;
}

/** Goal (b): only for the goal's mode with 8 tabs; a bound decides it when only one arm got there. */
function eightTabsMet(row: ScaleAccuracyRow): string {
  if (row.mode !== SCALE_GOALS.mode || row.tabs !== SCALE_GOALS.eightTabs) return '';
  const goal = SCALE_GOALS.eightTabsRatioAtMost;
  if (row.ratioBound?.side === 'above') return 'no';
  if (row.ratioBound?.side === 'below') return row.ratioBound.value <= goal ? 'yes' : '-';
  return met(row.ratio, (v) => v <= goal);
}
