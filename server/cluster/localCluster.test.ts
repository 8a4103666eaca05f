import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { HubClient } from '../../shared/HubClient.js';
import type { HubStatus } from '../hubStatus.js';
import { testGradient } from '../testing/testHub.js';
import { nodeArgsForTest } from '../testing/testProcesses.js';

/**
 * `npm run cluster` end to end: the command itself (node --import tsx, as the npm script runs it) with
 * real child processes on 127.0.0.1 and free ports; one real gradient through its gateway; then a
 * SIGINT, after which every process it started (nats-server too) must be gone and the exit code 0.
 */

const READY = /^cluster: Ctrl-C stops them all/;

let cluster: ChildProcess | null = null;
let dir: string | null = null;
const clients: HubClient[] = [];

afterEach(async () => {
  clients.splice(0).forEach((client) => client.close());
  if (cluster !== null && cluster.exitCode === null && cluster.signalCode === null) {
    // A failed test must not leave a cluster behind: its children are detached, so kill the groups.
    for (const pid of descendants(cluster.pid!)) killGroup(pid);
    cluster.kill('SIGKILL');
    await once(cluster, 'exit');
  }
  cluster = null;
  if (dir !== null) await rm(dir, { recursive: true, force: true });
  dir = null;
});

describe('npm run cluster', () => {
  it('starts NATS, 2 shards, a coordinator and a gateway, takes a push through the gateway, and stops them all on SIGINT', async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-cluster-'));
    const args = [
      ...nodeArgsForTest('server/cluster/clusterMain.ts'),
      ...['--shards', '2', '--gateways', '1', '--port', '0', '--host', '127.0.0.1'],
      ...['--checkpoint-dir', dir, '--subject-prefix', 'local-cluster-test', '--no-build-client'],
      ...['--mode', 'async', '--', '--eval-interval', '3600', '--no-known-answer'],
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    cluster = child;
    const lines: string[] = [];
    child.stderr!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (READY.test(line)) resolve();
      });
      child.once('exit', (code) =>
        reject(new Error(`npm run cluster exited (${code}):\n${lines.join('\n')}`)),
      );
    });
    const output = lines.join('\n');
    const url = (pattern: RegExp) => output.match(pattern)?.[1];
    const dashboard = url(/^cluster: dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\/$/m);
    const gateway = url(/^cluster: gateway 0\s+(http:\/\/127\.0\.0\.1:\d+)\/worker$/m);
    expect(dashboard).toBeDefined();
    expect(gateway).toBeDefined();
    expect(gateway).not.toBe(dashboard);
    expect(output).toMatch(/^cluster: admin\s+http:\/\/127\.0\.0\.1:\d+\/#admin=\S+/m);
    expect(output).toMatch(/^cluster: NATS\s+nats:\/\/127\.0\.0\.1:\d+/m);
    // Each child's output comes prefixed with its name.
    for (const name of ['nats', 'shard 0', 'shard 1', 'coordinator', 'gateway 0']) {
      expect(output).toContain(`[${name}] `);
    }
    // The machine-by-machine commands: every shard and the coordinator with the same run flags.
    const run = '--model cnn --mode async --optimizer adam --lr 0.001 --seed 1 --batch-size 64';
    expect(output).toContain(`--role shard --shards 2 --shard-index 1 --checkpoint-dir ${dir}`);
    expect(output.split(run).length - 1).toBe(3);

    // One real gradient through the gateway reaches the coordinator and both shards.
    const client = await HubClient.connect({ url: gateway!, backend: 'test', ackTimeoutMs: 20_000 });
    clients.push(client);
    const { versions } = await client.pull();
    const outcome = await client.push({
      gradient: testGradient(client.config.params, 5),
      versions,
      examples: 64,
      loss: 1,
    });
    expect(outcome.globalStep).toBe(1);
    const status = (await (await fetch(`${dashboard}/api/status`)).json()) as HubStatus;
    expect(status.pushesAccepted).toBe(1);
    expect(status.shards.map((s) => s.version)).toEqual([1, 1]);
    client.close();

    // Every process the command started, nats-server (its grandchild) included.
    const started = descendants(child.pid!);
    expect(started.length).toBeGreaterThanOrEqual(6);
    expect(started.some((pid) => commandOf(pid).includes('nats-server'))).toBe(true);
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    expect(code, lines.join('\n')).toBe(0);
    expect(started.filter(alive), 'processes left running').toEqual([]);
    // Stopped in order: gateways, coordinator, shards, NATS; each cleanly.
    const order = ['gateways', 'the coordinator', 'shards', 'NATS'].map((what) =>
      lines.indexOf(`cluster: stopping ${what}`),
    );
    expect(order.every((index, i) => index > 0 && (i === 0 || index > order[i - 1]))).toBe(true);
    expect(lines).toContain('cluster: stopped');
    // NATS keeps JetStream's store in the checkpoint folder, for the next start of the cluster.
    expect(existsSync(join(dir, 'nats'))).toBe(true);
  }, 300_000);
});

/** Every process below `root` (children, grandchildren, ...), from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat !== null) parents.set(Number(entry), stat.ppid);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

/** A process that has exited and not yet been reaped (a zombie) is gone. */
function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z';
}

function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    // The command name is in parentheses and may hold spaces: the fields after its last ')'.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Not a group leader, or gone.
  }
}
