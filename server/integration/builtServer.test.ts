import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The hub as `npm start` runs it: scripts/build-server.mjs's JavaScript under plain `node`, without
 * tsx, its evaluation thread included. Built into a folder of its own under dist/ (inside the
 * repository, so that the modules find node_modules and the repository root), removed afterwards.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'dist', `test-build-${process.pid}`);

let checkpointDir: string;
let child: ChildProcess | undefined;

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build-server.mjs', '--outdir', OUT], { cwd: ROOT, stdio: 'pipe' });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await rm(OUT, { recursive: true, force: true });
  if (checkpointDir) await rm(checkpointDir, { recursive: true, force: true });
});

/** Resolves with the first stdout line that matches. */
function lineMatching(hub: ChildProcess, pattern: RegExp, output: () => string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    createInterface({ input: hub.stdout! }).on('line', (line) => {
      const match = line.match(pattern);
      if (match) resolve(match);
    });
    hub.on('close', (code) => reject(new Error(`exited with ${code} before ${pattern}:\n${output()}`)));
  });
}

describe('the built hub', () => {
  it('serves /api/status and evaluates on its thread under plain node, then stops on SIGINT', async () => {
    expect(existsSync(join(OUT, 'server', 'main.js'))).toBe(true);
    // The evaluation thread's tsx entry stays out of the build; the kernels go in.
    expect(existsSync(join(OUT, 'server', 'evaluation', 'evaluationThreadEntry.mjs'))).toBe(false);
    expect(existsSync(join(OUT, 'server', 'optimizers', 'kernels.wasm'))).toBe(true);
    expect(existsSync(join(OUT, 'server', 'gateway', 'finiteCheck.wasm'))).toBe(true);

    checkpointDir = await mkdtemp(join(tmpdir(), 'built-hub-'));
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // nothing may load tsx for it
    const args = ['--port', '0', '--fresh', '--checkpoint-dir', checkpointDir, '--eval-interval', '1'];
    const hub = spawn(process.execPath, [join(OUT, 'server', 'main.js'), ...args, '--eval-examples', '500'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = hub;
    let output = '';
    hub.stdout!.on('data', (d) => (output += d));
    hub.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => hub.on('close', resolve));

    const [, url] = await lineMatching(hub, /hub: status\s+(\S+)\/api\/status/, () => output);
    const status = async () => (await (await fetch(`${url}/api/status`)).json()) as Record<string, unknown>;
    expect((await status()).model).toEqual({ name: 'cnn', params: 5994 });
    // The first periodic evaluation: the thread (built JavaScript) loaded MNIST and TF.js and answered.
    const deadline = Date.now() + 60_000;
    let accuracy: unknown = null;
    while (accuracy === null && Date.now() < deadline) {
      accuracy = (await status()).testAccuracy;
      if (accuracy === null) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(accuracy).toEqual(expect.any(Number));

    hub.kill('SIGINT');
    expect(await exited, output).toBe(0);
  }, 120_000);
});
