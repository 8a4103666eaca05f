import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { nodeArgsForTest } from '../../testing/testProcesses.js';

/** A `--role shard` process of the hub CLI, started by a test. */
export interface ShardCli {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
}

export interface ShardCliOptions {
  readonly natsUrl: string;
  readonly index: number;
  readonly shards: number;
  readonly checkpointDir: string;
  readonly subjectPrefix: string;
  /** More flags: --model, --seed, --checkpoint-secs, ... */
  readonly args?: readonly string[];
}

/**
 * `npm run hub -- --role shard …` as an operator runs it, in a child process; resolves once it serves
 * on NATS. Node itself runs the hub (nodeArgsForTest: the run's build, or the sources under tsx's
 * loader), so that a SIGKILL reaches the process itself. The caller kills it.
 */
export async function spawnShardCli(options: ShardCliOptions): Promise<ShardCli> {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgsForTest('server/main.ts'),
      ...['--nats', options.natsUrl, '--role', 'shard'],
      ...['--shards', String(options.shards), '--shard-index', String(options.index)],
      ...['--subject-prefix', options.subjectPrefix, '--checkpoint-dir', options.checkpointDir],
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      if (/serving floats/.test(line)) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`shard ${options.index} exited (${code}) before serving:\n${output}`)),
    );
  });
  return { child, output: () => output };
}
