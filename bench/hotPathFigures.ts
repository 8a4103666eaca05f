/**
 * Figures 1 to 3 of `npm run bench`, the hot paths: transport round trips, applying an update (and
 * aggregating a round), and one worker tab's overhead. Apart from table.ts, which only puts the
 * figures in order, so that each group of figures formats in a file of its own.
 */
import { GOALS, met } from './goals.js';
import { bytes, fixed, section, table, type Cell } from './markdownTable.js';
import type { BenchResults, RoundTrips } from './results.js';

/** Figure 1: round trips/s through the hub against raw ws, per size. */
export function transportFigure(r: BenchResults): string[] {
  return section(
    r,
    'transport',
    '## 1. Transport: round trips/s, one request in flight (goal: hub/raw >= 0.9)',
    (transport) => {
      const out: string[] = [];
      const rows: Cell[][] = [];
      for (const row of transport.rows) {
        const add = (op: string, t: RoundTrips) =>
          rows.push([
            row.size,
            bytes(row.bytes),
            op,
            fixed(t.hub, 0),
            fixed(t.rawWs, 0),
            fixed(t.ratio, 2),
            met(t.ratio, (v) => v >= GOALS.transportRatioAtLeast),
          ]);
        add('push+ack', row.pushAck);
        add('pull', row.pull);
      }
      out.push(table(['size', 'bytes', 'round trip', 'hub /s', 'raw ws /s', 'hub/raw', 'goal met'], rows));
      out.push(
        `hub: HubClient (socket.io, websocket) over ${transport.hubConnections} registered connections in turn; ` +
          `raw: one ws connection. ${transport.rows.map((row) => `${row.size}: ${row.hubSetup}`).join('; ')}.`,
      );
      return out;
    },
  );
}

/** Figure 2: each update rule's ms against a copy, then each aggregation rule's. */
export function applyFigure(r: BenchResults): string[] {
  return section(r, 'apply', '## 2. Apply: ms per 1M-float gradient (goal: <= 3x the copy)', (apply) => {
    const out: string[] = [];
    const rows: Cell[][] = [['Float32Array.set (copy)', fixed(apply.copyMs, 3), '1.00', '']];
    for (const rule of apply.rules) {
      rows.push([
        rule.rule,
        fixed(rule.ms, 3),
        fixed(rule.ratio, 2),
        met(rule.ratio, (v) => v <= GOALS.applyRatioAtMost),
      ]);
    }
    out.push(
      table([`update (${apply.floats.toLocaleString('en-US')} floats)`, 'ms', 'x copy', 'goal met'], rows),
    );
    const a = apply.aggregate;
    if (a) {
      out.push('');
      out.push(
        table(
          [
            `aggregate (${a.gradients} x ${a.floats.toLocaleString('en-US')} floats, no goal)`,
            'ms',
            'x copy',
          ],
          [
            [`copy of the ${a.gradients}`, fixed(a.copyMs, 3), '1.00'],
            ...a.rules.map((rule): Cell[] => [rule.rule, fixed(rule.ms, 3), fixed(rule.ratio, 2)]),
          ],
        ),
      );
    }
    return out;
  });
}

/** Figure 3: one tab's examples/s through the hub against alone. */
export function workerOverheadFigure(r: BenchResults): string[] {
  return section(
    r,
    'workerOverhead',
    '## 3. Worker overhead: one tab, examples/s (goal: hub/local >= 0.9)',
    (w) => {
      const out: string[] = [];
      out.push(
        table(
          ['arm', 'backend (auto)', 'examples/s'],
          [
            ['through the hub (/worker)', w.hubBackend, fixed(w.hubExamplesPerSec, 0)],
            ['local, no hub (client/bench)', w.localBackend, fixed(w.localExamplesPerSec, 0)],
          ],
        ),
      );
      out.push(
        `hub/local: ${fixed(w.ratio, 2)} (goal met: ${met(w.ratio, (v) => v >= GOALS.workerOverheadAtLeast)}); ` +
          `${w.model}, batch ${w.batchSize}.`,
      );
      return out;
    },
  );
}
