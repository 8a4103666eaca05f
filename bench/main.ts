import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { measureApply } from './apply.js';
import { BenchBrowser } from './browser.js';
import { measureCompression } from './compression.js';
import { measureCoordinatorCost } from './coordinatorCost.js';
import { measureDashboard } from './dashboard.js';
import { measureGateways } from './gateways.js';
import type { Log } from './log.js';
import type { BenchResults } from './results.js';
import { FULL, QUICK } from './settings.js';
import { measureScale } from './scale.js';
import { measureSyncLrScaling } from './syncLrScaling.js';
import { DEFAULT_SCALE_MODES, SCALE_MODE_NAMES, type ScaleMode } from './scaleModes.js';
import { renderResults } from './table.js';
import { measureTimeToAccuracy } from './timeToAccuracy.js';
import { measureTransport } from './transport.js';
import { measureVolunteers } from './volunteers.js';
import { measureWorkerOverhead } from './workerOverhead.js';

const PHASES = [
  'transport',
  'apply',
  'overhead',
  'accuracy',
  'volunteers',
  'compression',
  'gateways',
  'coordinator',
  'scale',
  'sync-lr',
  'dashboard',
] as const;
type Phase = (typeof PHASES)[number];

const DEFAULT_OUT = fileURLToPath(new URL('./results.json', import.meta.url));

const program = new Command('npm run bench --')
  .description(
    'Measures the hub against the wire and against training alone (issue 8): transport, apply, worker ' +
      'overhead, time to accuracy, many volunteers, compression; a cluster on NATS with one gateway ' +
      'against two (issue 9), and the coordinator CPU per push and per round in each mode; scale over emulated home links with throttled tabs, per mode ' +
      '(issue 13); and sync rounds with and without the learning rate x workers, per optimizer ' +
      "(issue 14); and the dashboard's updates/s and long tasks while volunteers push. Prints a table and writes the same " +
      'figures as JSON. `npm run bench` builds the client first (the browser phases need dist/client).',
  )
  .option(
    '--quick',
    `shorter phases, fewer repetitions, accuracy target ${QUICK.timeToAccuracy.target} instead of ${FULL.timeToAccuracy.target}: under 5 minutes`,
    false,
  )
  .addOption(
    new Option('--only <phases>', `comma-separated phases to run (${PHASES.join(', ')})`).argParser(
      parsePhases,
    ),
  )
  .addOption(
    new Option(
      '--modes <modes>',
      `comma-separated training modes of the accuracy and scale phases (${SCALE_MODE_NAMES.join(', ')})`,
    )
      .argParser(parseModes)
      .default(DEFAULT_SCALE_MODES, DEFAULT_SCALE_MODES.join(',')),
  )
  .addOption(
    new Option(
      '--scale-tabs <counts>',
      `the scale phase's numbers of throttled tabs (full: ${FULL.scale.tabs.join(',')}; quick: ${QUICK.scale.tabs.join(',')}; 0: efficiency only)`,
    ).argParser(parseCounts),
  )
  .addOption(new Option('--out <file>', 'where to write the JSON').default(DEFAULT_OUT, 'bench/results.json'))
  .option('--verbose', 'print each measurement as it is taken (stderr)', false)
  .showHelpAfterError('(run with --help for every flag)');

function parsePhases(value: string): Phase[] {
  const names = value.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(PHASES as readonly string[]).includes(name)) {
      throw new Error(`unknown phase "${name}"; phases: ${PHASES.join(', ')}`);
    }
  }
  return names as Phase[];
}

function parseModes(value: string): ScaleMode[] {
  const names = value.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(SCALE_MODE_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown mode "${name}"; modes: ${SCALE_MODE_NAMES.join(', ')}`);
    }
  }
  return names as ScaleMode[];
}

/** `0` alone: no counts (the scale phase skips its time-to-accuracy part). */
function parseCounts(value: string): number[] {
  if (value.trim() === '0') return [];
  const counts = value.split(',').map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`not a list of tab counts: "${value}"`);
  return counts;
}

program.parse();
const flags = program.opts<{
  quick: boolean;
  only?: Phase[];
  modes: ScaleMode[];
  scaleTabs?: number[];
  out: string;
  verbose: boolean;
}>();
const preset = flags.quick ? QUICK : FULL;
const settings =
  flags.scaleTabs === undefined ? preset : { ...preset, scale: { ...preset.scale, tabs: flags.scaleTabs } };
const selected = new Set<Phase>(flags.only ?? PHASES);
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const detail: Log = flags.verbose ? (line) => process.stderr.write(`${line}\n`) : () => undefined;

const started = Date.now();
const results: BenchResults = {
  version: 1,
  mode: settings.mode,
  startedAt: new Date(started).toISOString(),
  durationSec: 0,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    node: process.version,
    chromium: null,
  },
  git: gitState(),
  transport: null,
  apply: null,
  workerOverhead: null,
  timeToAccuracy: null,
  volunteers: null,
  compression: null,
  gateways: null,
  coordinatorCost: null,
  scale: null,
  syncLrScaling: null,
  dashboard: null,
  errors: {},
};

/** HEAD and whether the work tree differs from it; null outside a git checkout. */
function gitState(): BenchResults['git'] {
  try {
    const run = (...args: string[]) =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit: run('rev-parse', 'HEAD').trim(), dirty: run('status', '--porcelain').trim() !== '' };
  } catch {
    return null;
  }
}

let browser: BenchBrowser | null = null;
async function sharedBrowser(): Promise<BenchBrowser> {
  if (browser === null) {
    browser = await BenchBrowser.launch();
    (results.machine as { chromium: string | null }).chromium = `Chromium ${browser.version}`;
  }
  return browser;
}

/** Runs one phase: a line when it starts and one when it ends; a failure is recorded, not fatal. */
async function phase(
  name: Phase,
  key: keyof BenchResults & string,
  what: string,
  run: () => Promise<unknown>,
): Promise<void> {
  if (!selected.has(name)) return;
  const index = PHASES.indexOf(name) + 1;
  progress(`[${index}/${PHASES.length}] ${name}: ${what}`);
  const phaseStarted = Date.now();
  try {
    (results as unknown as Record<string, unknown>)[key] = await run();
    progress(
      `[${index}/${PHASES.length}] ${name}: done in ${((Date.now() - phaseStarted) / 1000).toFixed(0)} s`,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    results.errors[key] = message;
    progress(`[${index}/${PHASES.length}] ${name}: FAILED: ${message}`);
    if (flags.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  }
}

try {
  progress(
    `${settings.mode} run (${flags.quick ? 'under 5 minutes' : '~9 minutes'}, and ~${flags.quick ? 15 : 60} more for scale); ` +
      `phases: ${[...selected].join(', ')}`,
  );
  await phase('transport', 'transport', 'push+ack and pull through the hub vs raw ws', () =>
    measureTransport(settings, detail),
  );
  await phase('apply', 'apply', 'update rules vs Float32Array.set on 1M floats', async () =>
    measureApply(settings),
  );
  await phase('overhead', 'workerOverhead', 'one tab through the hub vs the same tab locally', async () =>
    measureWorkerOverhead(await sharedBrowser(), settings, detail),
  );
  await phase(
    'accuracy',
    'timeToAccuracy',
    `two tabs through a hub of each of ${flags.modes.join(', ')} vs one tab locally, to test accuracy ${settings.timeToAccuracy.target} twice in a row`,
    async () =>
      measureTimeToAccuracy(
        await sharedBrowser(),
        results.workerOverhead?.chosenBackend ?? 'auto',
        flags.modes,
        settings,
        detail,
      ),
  );
  await phase(
    'volunteers',
    'volunteers',
    `${settings.volunteers.clients} socket.io clients pushing cnn gradients`,
    () => measureVolunteers(settings, detail),
  );
  await phase(
    'compression',
    'compression',
    `bytes per push and test accuracy after ${settings.compression.examples} examples`,
    () => measureCompression(settings, detail),
  );
  await phase(
    'gateways',
    'gateways',
    `${settings.gateways.clients} clients pushing through one gateway vs two, on NATS`,
    () => measureGateways(settings, detail),
  );
  await phase(
    'coordinator',
    'coordinatorCost',
    `the coordinator's CPU per push and per round, async, sync and local, ${settings.coordinatorCost.clients} clients on 2 gateways`,
    () => measureCoordinatorCost(settings, detail),
  );
  await phase(
    'scale',
    'scale',
    `${flags.modes.join(', ')}: efficiency over a home link; ${settings.scale.tabs.join(', ')} tabs at ` +
      `${settings.scale.cpuThrottle}x on home links to ${settings.scale.target}; wire bytes per example`,
    async () =>
      measureScale(
        await sharedBrowser(),
        results.workerOverhead?.chosenBackend ?? 'auto',
        flags.modes,
        settings,
        detail,
      ),
  );
  await phase(
    'sync-lr',
    'syncLrScaling',
    `sync mode with ${settings.syncLrScaling.workers.join(', ')} Node workers, lr x workers or not, adam and sgd, ` +
      `test accuracy after ${settings.syncLrScaling.examples} examples`,
    () => measureSyncLrScaling(settings, detail),
  );
  await phase(
    'dashboard',
    'dashboard',
    `the dashboard's updates/s and long tasks while ${settings.dashboard.volunteers} simulated volunteers push`,
    async () => measureDashboard(await sharedBrowser(), settings, detail),
  );
} finally {
  await (browser as BenchBrowser | null)?.close();
}

(results as { durationSec: number }).durationSec = (Date.now() - started) / 1000;
await writeFile(flags.out, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${renderResults(results)}\n\nbench: figures written to ${flags.out}\n`);
// Hubs, browsers and sockets are closed; exit even if a library left a timer behind.
process.exit(Object.keys(results.errors).length > 0 ? 1 : 0);
