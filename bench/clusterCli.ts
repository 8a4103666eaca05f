import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A `--role coordinator` or `--role gateway` process of the hub CLI, with the URL it serves. */
export interface RoleProcess {
  readonly child: ChildProcess;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * `npm run hub -- --nats <url> --role <role> …` in a child process of its own (each gets its own CPU
 * time, as on separate machines); resolves with its URL once it prints its status line.
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
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
