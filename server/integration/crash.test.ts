import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, expect, it } from 'vitest';
import { floatsToBytes } from '../../shared/floatCodec.js';
import { readNewest } from '../checkpoints/Checkpointer.js';
import type { HubStatus } from '../hubStatus.js';
import { nodeArgsForTest } from '../testing/testProcesses.js';

/**
 * The hub killed with SIGKILL mid-run, as a crash would: real processes (`npm start`'s entry point
 * and two `npm run worker`s), real sockets, checkpoints on disk.
 */
const children: ChildProcess[] = [];
let dir: string | undefined;

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

function run(script: string, args: string[]): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, [...nodeArgsForTest(script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(`stderr: ${line}`));
  return { child, lines };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function status(url: string): Promise<HubStatus | undefined> {
  try {
    return (await (await fetch(`${url}/api/status`)).json()) as HubStatus;
  } catch {
    return undefined;
  }
}

const CHECKPOINT_LINE = /^checkpoint: step (\d+), test accuracy (\d\.\d+) ->/;
/**
 * The kill comes after a checkpoint past this step: trained weights, optimizer state and a data cursor
 * far from the fresh ones (the resume is checked bit for bit against the checkpoint, so any step
 * past the first would do; 60 is a few seconds of two workers, where 300 took ~18 s).
 */
const KILL_AFTER_STEP = 60;

it('killed with SIGKILL, the hub resumes from its last checkpoint and the workers carry on by themselves', async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-crash-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const hubArgs = [
    ...['--mode', 'async'],
    '--port',
    String(port),
    '--shards',
    '3',
    '--checkpoint-dir',
    dir,
    '--checkpoint-secs',
    '1',
  ];
  hubArgs.push('--eval-interval', '1', '--eval-examples', '2000');

  const first = run('server/main.ts', hubArgs);
  await waitFor('the hub', () => status(url));
  const workers = [0, 1].map(() => run('server/worker/main.ts', ['--hub', url, '--report-every', '100']));

  // Train until a checkpoint well into the run, then kill the hub without warning.
  const checkpointed = () =>
    first.lines.map((l) => l.match(CHECKPOINT_LINE)).filter((m): m is RegExpMatchArray => m !== null);
  await waitFor(
    `a checkpoint past step ${KILL_AFTER_STEP}`,
    () => (checkpointed().some((m) => Number(m[1]) >= KILL_AFTER_STEP) ? true : undefined),
    120_000,
  );
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  const lastStep = Math.max(...checkpointed().map((m) => Number(m[1])));
  // What the second hub must resume: the newest valid checkpoint on disk, and its shards' checksums
  // (sha1 of each shard's float32 bytes, as /api/status reports them).
  const { checkpoint: saved } = await readNewest(dir);
  expect(saved).not.toBeNull();
  const savedShards = saved!.value.shards.map((shard) => ({
    version: shard.version,
    checksum: createHash('sha1').update(floatsToBytes(shard.weights)).digest('hex'),
  }));

  const second = run('server/main.ts', hubArgs);
  const resumed = await waitFor('the resume line', () => {
    const match = second.lines.join('\n').match(/resumed from (.*): step (\d+), test accuracy (\d\.\d+)/);
    return match ? { file: match[1], step: Number(match[2]), accuracy: Number(match[3]) } : undefined;
  });
  // The workers retried the dead hub all along. Stop them while the new one starts (it prints the
  // resume line long before it listens), so that its status shows the restored weights untouched.
  for (const worker of workers) worker.child.kill('SIGSTOP');
  expect(resumed.file).toBe(saved!.file);
  expect(resumed.step).toBeGreaterThanOrEqual(lastStep);

  // The hub measures the restored weights before it lets any worker in.
  const remeasured = await waitFor('the re-measured accuracy', () => {
    const match = second.lines.join('\n').match(/restored weights re-measured: test accuracy (\d\.\d+)/);
    return match ? Number(match[1]) : undefined;
  });
  console.log(
    `  killed after checkpoint step ${lastStep}; resumed at step ${resumed.step} ` +
      `(accuracy saved ${resumed.accuracy}, re-measured ${remeasured})`,
  );
  // The restored weights are the saved ones, bit for bit, as in checkpoints.test.ts.
  const restored = await waitFor('the new hub', () => status(url));
  expect(restored.globalStep).toBe(saved!.value.coordinator.globalStep);
  expect(restored.shards.map(({ version, checksum }) => ({ version, checksum }))).toEqual(savedShards);
  for (const worker of workers) worker.child.kill('SIGCONT');

  // Both workers found the new hub on their own and train on.
  const after = await waitFor('both workers back and training', async () => {
    const s = await status(url);
    return s && s.workers.length === 2 && s.globalStep > resumed.step + 20 ? s : undefined;
  });
  expect(after.globalStep).toBeGreaterThan(resumed.step);
}, 240_000);
