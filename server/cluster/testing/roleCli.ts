import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A `--role coordinator` or `--role gateway` process of the hub CLI, with the URL it serves. */
export interface RoleProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, and resolves once it has exited. */
  close(): Promise<void>;
}

/**
 * `npm run hub -- --role <role> --port 0 …` (pass `--nats <url>` and the rest in `args`) in a child
 * process of its own (its own CPU time, as on another machine); resolves with its URL once it prints
 * its status line. Node with tsx's loader, as spawnShardCli, so that a kill reaches the process itself.
 */
export async function spawnRole(
  role: 'coordinator' | 'gateway',
  args: readonly string[],
): Promise<RoleProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join('server', 'main.ts'), '--role', role, '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      const match = line.match(/status\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/status/);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) =>
      reject(new Error(`--role ${role} exited (${code}) before serving:\n${output}`)),
    );
  });
  return {
    child,
    url,
    output: () => output,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
