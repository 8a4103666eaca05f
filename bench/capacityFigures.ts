/**
 * The figures of `npm run bench` on capacity: many volunteers on one hub (5), one gateway against
 * two (7), and the coordinator's CPU per push and per round (7b). Apart from table.ts, which only
 * puts the figures in order, so that each group of figures formats in a file of its own.
 */
import { GOALS } from './goals.js';
import { bytes, fixed, section, table, type Cell } from './markdownTable.js';
import type { BenchResults, CoordinatorCostResult } from './results.js';

/** Figure 5: many volunteers' pushes/s, latencies, errors and the hub's CPU and RSS. */
export function volunteersFigure(r: BenchResults): string[] {
  return section(
    r,
    'volunteers',
    '## 5. Many volunteers (goal: no errors, p99 < 100 ms, RSS bounded)',
    (v) => {
      const out: string[] = [];
      out.push(
        table(
          [
            'stage',
            'pushes/s',
            'p50 ms',
            'p99 ms',
            'max ms',
            'errors',
            'hub CPU ms/push',
            'hub CPU cores',
            'goal met',
          ],
          v.stages.map((s) => [
            `${s.name} (${s.description}${s.offeredPerSec === null ? '' : `, ${s.offeredPerSec} offered/s`})`,
            fixed(s.pushesPerSec, 0),
            fixed(s.p50Ms, 1),
            fixed(s.p99Ms, 1),
            fixed(s.maxMs, 0),
            s.errors,
            fixed(s.hubCpuMsPerPush, 3),
            fixed(s.hubCpuCores, 2),
            s.errors === 0 && s.p99Ms < GOALS.volunteersP99MsBelow ? 'yes' : 'no',
          ]),
        ),
      );
      out.push(
        `${v.clients} clients (${v.connectErrors} failed to connect, ${fixed(v.connectSeconds, 1)} s to connect all), ` +
          `${v.model} gradient ${bytes(v.gradientBytes)} B. Hub RSS MB: idle ${fixed(v.hubRssMb.idle, 0)}, ` +
          `${v.clients} connected ${fixed(v.hubRssMb.connected, 0)}, peak ${fixed(v.hubRssMb.peak, 0)}, end ${fixed(v.hubRssMb.end, 0)}.`,
      );
      return out;
    },
  );
}

/** Figure 7: aggregate pushes/s through one gateway against two. */
export function gatewaysFigure(r: BenchResults): string[] {
  return section(
    r,
    'gateways',
    '## 7. Gateways: aggregate pushes/s, one gateway against two (issue 9; no goal set)',
    (g) => {
      const out: string[] = [];
      out.push(
        table(
          ['arm', 'pushes/s', 'coordinator CPU ms/push', 'samples'],
          [
            [
              '1 gateway',
              fixed(g.oneGateway, 0),
              fixed(g.oneCoordinatorCpuMsPerPush, 3),
              g.oneSamples.map((x) => x.toFixed(0)).join(', '),
            ],
            [
              '2 gateways',
              fixed(g.twoGateways, 0),
              fixed(g.twoCoordinatorCpuMsPerPush, 3),
              g.twoSamples.map((x) => x.toFixed(0)).join(', '),
            ],
          ],
        ),
      );
      out.push(
        `two/one: ${fixed(g.ratio, 2) ?? '-'}; ${g.clients} clients each keeping one ${g.model} push ` +
          `(${bytes(g.gradientBytes)} B) in flight for ${g.seconds} s per sample, ${g.errors} errors; ` +
          `nats-server, ${g.shards} shard processes, a coordinator and the gateways each a process of its own.`,
      );
      return out;
    },
  );
}

/** Figure 7b: the coordinator process's CPU per push and per round, per mode. */
export function coordinatorCostFigure(r: BenchResults): string[] {
  return section(
    r,
    'coordinatorCost',
    "### 7b. What bounds a cluster: the coordinator process's CPU per push and per round",
    coordinatorCostTable,
  );
}

function coordinatorCostTable(c: CoordinatorCostResult): string[] {
  const rows: Cell[][] = c.rows.map((row) => [
    row.mode,
    row.via === 'gateways' ? `${c.gateways} gateways` : "the coordinator's URL",
    fixed(row.cpuMsPerPush, 3),
    fixed(row.cpuMsPerRound, 1),
    fixed(row.pushesPerSec, 0),
    fixed(row.roundsPerSec, 1),
    fixed(row.coordinatorCores, 2),
    fixed(row.idleCores, 3),
    row.errors,
    row.error ?? (row.gatewayFailure === null ? '' : `through gateways: ${row.gatewayFailure}`),
  ]);
  return [
    table(
      [
        'mode',
        'clients on',
        'CPU ms/push',
        'CPU ms/round',
        'pushes/s',
        'rounds/s',
        'coordinator cores',
        'idle cores',
        'errors',
        'note',
      ],
      rows,
    ),
    `${c.clients} clients each pulling and pushing back to back (${c.model}; sync and local rounds wait for all ` +
      `${c.clients}); CPU: the coordinator process's utime + stime from /proc over each ${c.seconds} s window, ` +
      `divided by the pushes and rounds its /api/status counted (medians of ${c.reps} windows); idle: the same ` +
      `process with no worker connected. ${c.shards} shard processes, nats-server, the gateways and the clients ` +
      'share the same cores.',
  ];
}
