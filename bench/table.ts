import { GOALS, met, SCALE_GOALS } from './goals.js';
import type {
  BenchResults,
  CompressionRow,
  CoordinatorCostResult,
  RoundTrips,
  ScaleAccuracyRow,
  ScaleResult,
  SyncLrScalingResult,
} from './results.js';

type Cell = string | number | null | undefined;

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

  out.push('## 1. Transport: round trips/s, one request in flight (goal: hub/raw >= 0.9)');
  if (r.transport) {
    const rows: Cell[][] = [];
    for (const row of r.transport.rows) {
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
      `hub: HubClient (socket.io, websocket) over ${r.transport.hubConnections} registered connections in turn; ` +
        `raw: one ws connection. ${r.transport.rows.map((row) => `${row.size}: ${row.hubSetup}`).join('; ')}.`,
    );
  } else out.push(missing(r, 'transport'));
  out.push('');

  out.push('## 2. Apply: ms per 1M-float gradient (goal: <= 3x the copy)');
  if (r.apply) {
    const rows: Cell[][] = [['Float32Array.set (copy)', fixed(r.apply.copyMs, 3), '1.00', '']];
    for (const rule of r.apply.rules) {
      rows.push([
        rule.rule,
        fixed(rule.ms, 3),
        fixed(rule.ratio, 2),
        met(rule.ratio, (v) => v <= GOALS.applyRatioAtMost),
      ]);
    }
    out.push(
      table([`update (${r.apply.floats.toLocaleString('en-US')} floats)`, 'ms', 'x copy', 'goal met'], rows),
    );
    const a = r.apply.aggregate;
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
  } else out.push(missing(r, 'apply'));
  out.push('');

  out.push('## 3. Worker overhead: one tab, examples/s (goal: hub/local >= 0.9)');
  if (r.workerOverhead) {
    const w = r.workerOverhead;
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
  } else out.push(missing(r, 'workerOverhead'));
  out.push('');

  out.push(`## 4. Time to accuracy (goal: hub/local <= ${GOALS.timeToAccuracyRatioAtMost})`);
  if (r.timeToAccuracy) {
    const t = r.timeToAccuracy;
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
  } else out.push(missing(r, 'timeToAccuracy'));
  out.push('');

  out.push('## 5. Many volunteers (goal: no errors, p99 < 100 ms, RSS bounded)');
  if (r.volunteers) {
    const v = r.volunteers;
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
  } else out.push(missing(r, 'volunteers'));
  out.push('');

  out.push('## 6. Compression (goal: <= 0.5x the bytes, accuracy within 0.3 points)');
  if (r.compression) {
    const c = r.compression;
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
  } else out.push(missing(r, 'compression'));

  out.push('');
  out.push('## 7. Gateways: aggregate pushes/s, one gateway against two (issue 9; no goal set)');
  if (r.gateways) {
    const g = r.gateways;
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
  } else out.push(missing(r, 'gateways'));
  out.push('');
  out.push("### 7b. What bounds a cluster: the coordinator process's CPU per push and per round");
  if (r.coordinatorCost) out.push(...coordinatorCostTable(r.coordinatorCost));
  else out.push(missing(r, 'coordinatorCost'));

  out.push('');
  out.push('## 8. Scale: past these 2 cores and past loopback, per mode (issue 13)');
  if (r.scale) out.push(...scaleTables(r.scale));
  else out.push(missing(r, 'scale'));

  out.push('');
  out.push('## 9. Sync rounds: the learning rate x workers or not, per optimizer (issue 14; no goal set)');
  if (r.syncLrScaling) out.push(...syncLrScalingTable(r.syncLrScaling));
  else out.push(missing(r, 'syncLrScaling'));

  const failures = Object.entries(r.errors);
  if (failures.length > 0) {
    out.push('', '## Failed phases');
    for (const [phase, message] of failures) out.push(`- ${phase}: ${message}`);
  }
  return out.join('\n');
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

/** Goal (b): only for the goal's mode with 8 tabs; a bound decides it when only one arm got there. */
function eightTabsMet(row: ScaleAccuracyRow): string {
  if (row.mode !== SCALE_GOALS.mode || row.tabs !== SCALE_GOALS.eightTabs) return '';
  const goal = SCALE_GOALS.eightTabsRatioAtMost;
  if (row.ratioBound?.side === 'above') return 'no';
  if (row.ratioBound?.side === 'below') return row.ratioBound.value <= goal ? 'yes' : '-';
  return met(row.ratio, (v) => v <= goal);
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

function count(value: number | null): string | null {
  return value === null ? null : value.toLocaleString('en-US');
}

function compressionMet(row: CompressionRow): string {
  if (!row.implemented || row.bytesRatio === null || row.accuracyDeltaPoints === null) return '-';
  const smaller = row.bytesRatio <= GOALS.compressionBytesRatioAtMost;
  const asAccurate = Math.abs(row.accuracyDeltaPoints) <= GOALS.compressionAccuracyPointsWithin;
  return smaller && asAccurate ? 'yes' : 'no';
}

function missing(r: BenchResults, phase: string): string {
  return r.errors[phase] ? `failed: ${r.errors[phase]}` : '(not run)';
}

function fixed(value: number | null | undefined, digits: number): string | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function bytes(value: number | null): string | null {
  return value === null || !Number.isFinite(value) ? null : Math.round(value).toLocaleString('en-US');
}

/** A Markdown table with padded columns; numbers right-aligned, text left-aligned; null shows as '-'. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))),
  );
  const numeric = headers.map((_, c) => text.every((row) => /^-?[\d,.]+$|^-$/.test(row[c] ?? '')));
  const widths = headers.map((h, c) => Math.max(h.length, ...text.map((row) => (row[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (numeric[c] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...text.map(line)].join('\n');
}
