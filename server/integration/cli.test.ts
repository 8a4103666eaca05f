import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgsForTest } from '../testing/testProcesses.js';

/**
 * The CLIs as a user runs them: `npm start -- …` and `npm run worker -- …` run these entry points.
 * Most tests start one process that exits by itself, and most of their time is its start-up (module
 * loading; the processes run the run's build, server/testing/testProcesses.ts): those run concurrently. Whatever a failed test left running is killed when
 * the file ends (not after each test, which would kill the processes of the tests still running).
 */
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Hubs started here keep their checkpoints in a folder of their own, never in the working tree. */
let checkpointDir: string;
beforeAll(async () => {
  checkpointDir = await mkdtemp(join(tmpdir(), 'cli-checkpoints-'));
});
afterAll(async () => {
  await rm(checkpointDir, { recursive: true, force: true });
});

function run(script: string, args: string[]): ChildProcess {
  const withDir =
    script === 'server/main.ts' ? [...args, '--checkpoint-dir', checkpointDir, '--fresh'] : args;
  const child = spawn(process.execPath, [...nodeArgsForTest(script), ...withDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Resolves with the first stdout line that matches. */
function lineMatching(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = line.match(pattern);
      if (match) resolve(match);
    });
    child.on('close', (code) => reject(new Error(`exited with ${code} before printing ${pattern}`)));
  });
}

describe('hub CLI', () => {
  it.concurrent('--help lists every flag', async () => {
    const { code, stdout } = await finished(run('server/main.ts', ['--help']));
    expect(code).toBe(0);
    for (const flag of [
      '--port',
      '--host',
      '--mode',
      '--shards',
      '--model',
      '--optimizer',
      '--lr',
      '--batch-size',
      '--round-timeout',
      '--replicas-to-aggregate',
      '--sync-lr-scaling',
      '--max-staleness',
      '--staleness-lr',
      '--lease-timeout',
      '--target-step-ms',
      '--checkpoint-dir',
      '--checkpoint-secs',
      '--keep-checkpoints',
      '--fresh',
      '--nats',
      '--role',
      '--shard-index',
      '--subject-prefix',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it.concurrent.each([
    [['--mode', 'fast'], /--mode.*Allowed choices are async, sync/],
    [['--shards', 'two'], /--shards.*expected a whole number from 1 to 64, got "two"/],
    [['--lr', '-1'], /--lr.*expected a positive number/],
    [['--model', 'resnet'], /Allowed choices are mlp, cnn, deep-cnn/],
    [['--bogus'], /unknown option '--bogus'/],
    [['--role', 'shard'], /--role shard needs --nats <url>/],
    [['--nats', 'nats://127.0.0.1:4222'], /--nats needs --role shard, coordinator or gateway/],
    [['--role', 'gateway'], /--role gateway needs --nats <url>/],
    [
      ['--nats', 'nats://127.0.0.1:4222', '--role', 'gateway', '--shard-index', '0'],
      /--shard-index is for --role shard; a gateway uses every shard/,
    ],
    [
      ['--nats', 'nats://127.0.0.1:4222', '--role', 'shard', '--shard-index', '2'],
      /--shard-index 2 is out of range for --shards 2: expected 0 to 1/,
    ],
  ])('refuses %j with a clear error', async (args, message) => {
    const { code, stderr } = await finished(run('server/main.ts', args));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
  });

  it.concurrent(
    'names the fix when the port is taken',
    async () => {
      // Taken by anything listening there (not a whole first hub: its start-up is not the point).
      const taker = createServer();
      await new Promise<void>((resolve) => taker.listen(0, '127.0.0.1', resolve));
      const port = String((taker.address() as { port: number }).port);
      try {
        const { code, stderr } = await finished(run('server/main.ts', ['--port', port]));
        expect(code).toBe(1);
        expect(stderr).toMatch(new RegExp(`port ${port} on 127.0.0.1 is in use; pick another with --port`));
      } finally {
        await new Promise((resolve) => taker.close(resolve));
      }
    },
    60_000,
  );

  it('starts in local mode by default, serves /api/status, and a worker CLI trains against it', async () => {
    const hub = run('server/main.ts', ['--port', '0', '--shards', '3', '--eval-interval', '600']);
    const hubOutput = finished(hub);
    const [, url] = await lineMatching(hub, /status\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/status/);
    const status = await (await fetch(`${url}/api/status`)).json();
    expect(status).toMatchObject({ protocolVersion: 1, mode: 'local', model: { name: 'cnn', params: 5994 } });
    expect(status.shards).toHaveLength(3);

    const worker = await finished(
      run('server/worker/main.ts', ['--hub', url, '--steps', '2', '--report-every', '1']),
    );
    expect(worker.stderr).not.toMatch(/failed/);
    expect(worker.code).toBe(0);
    // Each accepted push is a weight change of the default 20 local steps of 64 examples.
    expect(worker.stdout).toMatch(/step 2\/2, .*change of 20 local steps/);
    expect(worker.stdout).toMatch(/done, 2 weight changes accepted \(2560 examples\)/);
    const after = await (await fetch(`${url}/api/status`)).json();
    expect(after).toMatchObject({ globalStep: 2, examplesSeen: 2560 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^trainer_global_step 2$/m);

    hub.kill('SIGTERM');
    const { code, stdout } = await hubOutput;
    expect(code).toBe(0);
    expect(stdout).toMatch(/hub: local mode, model cnn \(5,994 parameters\), 3 shard\(s\)/);
    // SIGTERM is a graceful shutdown: a last checkpoint is written.
    expect(stdout).toMatch(/checkpoint: step 2, test accuracy \d\.\d{4} -> /);
  }, 90_000);
});

describe('export CLI', () => {
  it('writes the newest checkpoint as a TF.js LayersModel that loads', async () => {
    // The hub test above shut down gracefully: its last checkpoint is in checkpointDir.
    const out = join(checkpointDir, 'exported');
    const { code, stdout, stderr } = await finished(
      run('server/export/main.ts', ['--out', out, '--checkpoint-dir', checkpointDir]),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/export: cnn at step 2, test accuracy \d\.\d{4} from .* -> .*model\.json/);
    const modelJson = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    const weights = await readFile(join(out, 'weights.bin'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    expect(model.countParams()).toBe(5994);
    model.dispose();
  });

  it('says what to do when there is no checkpoint', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'no-checkpoints-'));
    const { code, stderr } = await finished(
      run('server/export/main.ts', ['--out', empty, '--checkpoint-dir', empty]),
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/no valid checkpoint in .*; run the hub \(npm start\) first/);
    await rm(empty, { recursive: true, force: true });
  });
});

describe('worker CLI', () => {
  it.concurrent(
    'says plainly when the hub cannot be reached',
    async () => {
      const { code, stderr } = await finished(
        run('server/worker/main.ts', ['--hub', 'http://127.0.0.1:9', '--steps', '1']),
      );
      expect(code).toBe(1);
      expect(stderr).toMatch(/cannot reach the hub at http:\/\/127\.0\.0\.1:9/);
    },
    60_000,
  );

  it.concurrent('refuses a hub that is not a URL', async () => {
    const { code, stderr } = await finished(run('server/worker/main.ts', ['--hub', 'localhost']));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/expected an http\(s\) URL/);
  });
});
