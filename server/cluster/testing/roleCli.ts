import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { nodeArgsForTest } from '../../testing/testProcesses.js';

/** A `--role coordinator` or `--role gateway` process of the hub CLI, with the URL it serves. */
export interface RoleProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, and resolves once it has exited. */
  close(): Promise<void>;
}

/** A `--role coordinator` process that may not serve yet: a standby, waiting for the lease. */
export interface PendingRole extends Omit<RoleProcess, 'url'> {
  /** Resolves with its URL once it prints its status line (a standby: once it took over). */
  readonly serving: Promise<string>;
}

const STATUS_LINE = /status\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/status/;

/**
 * `npm run hub -- --role <role> --port 0 …` (pass `--nats <url>` and the rest in `args`) in a child
 * process of its own (its own CPU time, as on another machine); resolves with its URL once it prints
 * its status line. Started as spawnShardCli starts a shard, so that a kill reaches the process itself.
 */
export async function spawnRole(
  role: 'coordinator' | 'gateway',
  args: readonly string[],
): Promise<RoleProcess> {
  const pending = spawnPendingRole(role, args, STATUS_LINE);
  await pending.ready;
  return { ...pending.role, url: await pending.role.serving };
}

/**
 * As spawnRole, resolving once a line matches `readyWhen` (say, a standby coordinator's "standby:"
 * line); `serving` resolves later, when it prints its status line.
 */
export async function spawnRoleUntil(
  role: 'coordinator' | 'gateway',
  args: readonly string[],
  readyWhen: RegExp,
): Promise<PendingRole> {
  const pending = spawnPendingRole(role, args, readyWhen);
  await pending.ready;
  return pending.role;
}

function spawnPendingRole(
  role: 'coordinator' | 'gateway',
  args: readonly string[],
  readyWhen: RegExp,
): { role: PendingRole; ready: Promise<void> } {
  const child = spawn(
    process.execPath,
    [...nodeArgsForTest('server/main.ts'), '--role', role, '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`--role ${role} exited (${signal ?? code}) before serving:\n${output}`)),
    ),
  );
  // Whoever awaits neither still hears the exit through the other.
  exited.catch(() => undefined);
  let markReady: () => void = () => undefined;
  let markServing: (url: string) => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const serving = new Promise<string>((resolve) => (markServing = resolve));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    output += `${line}\n`;
    if (readyWhen.test(line)) markReady();
    const match = line.match(STATUS_LINE);
    if (match) markServing(match[1]);
  });
  const racing = <T>(promise: Promise<T>): Promise<T> => {
    const raced = Promise.race([promise, exited]);
    // Killing a standby that never served is no error unless someone waits for it to serve.
    raced.catch(() => undefined);
    return raced;
  };
  return {
    ready: racing(ready),
    role: {
      child,
      serving: racing(serving),
      output: () => output,
      async close() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        await once(child, 'exit');
      },
    },
  };
}
