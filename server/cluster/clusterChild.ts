import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { nodeArgsToRun } from '../processEntry.js';

/** Lines of a child's output kept to show when it dies. */
const TAIL_LINES = 20;

export interface ClusterChildOptions {
  /** How its lines are prefixed and how it is named in messages: `shard 0`, `coordinator`, ... */
  readonly name: string;
  /** The module to run, as a path in the sources (`server/main.ts`): see nodeArgsToRun. */
  readonly module: string;
  /** Its arguments. */
  readonly args: readonly string[];
  readonly cwd: string;
  /** Its environment; default: the cluster's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where its prefixed stdout and stderr lines go. */
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  /** It exited while nobody was stopping it. */
  readonly onUnexpectedExit: (child: ClusterChild, how: string) => void;
}

/**
 * One process of a local cluster: its output prefixed with its name, the last lines kept, a wait for
 * the line that says it serves, and a stop that escalates from SIGTERM to SIGKILL.
 *
 * Node itself runs the module (nodeArgsToRun: the built JavaScript when the cluster runs built, tsx's
 * loader from the sources), never the tsx CLI, whose script runs in a grandchild that a SIGKILL of
 * the CLI would leave behind. Detached (a process group of its own), so that the terminal's Ctrl-C
 * reaches the cluster alone, which then stops its children in order instead of all at once.
 */
export class ClusterChild {
  readonly name: string;
  readonly process: ChildProcess;
  private readonly tail: string[] = [];
  private readonly lineListeners = new Set<(line: string) => void>();
  private stopping = false;
  private exitText: string | null = null;
  readonly exited: Promise<string>;
  private readonly killOnExit = (): void => this.signalGroup('SIGKILL');

  constructor(options: ClusterChildOptions) {
    this.name = options.name;
    this.process = spawn(process.execPath, [...nodeArgsToRun(options.module), ...options.args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const prefix = `[${options.name}] `;
    const follow = (stream: NodeJS.ReadableStream, write: (line: string) => void): void => {
      createInterface({ input: stream }).on('line', (line) => {
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        write(prefix + line);
        for (const listener of this.lineListeners) listener(line);
      });
    };
    follow(this.process.stdout!, options.stdout);
    follow(this.process.stderr!, options.stderr);
    // Detached children outlive a cluster process that crashes; this is its last chance to end them.
    process.once('exit', this.killOnExit);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        process.off('exit', this.killOnExit);
        this.exitText = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
        if (!this.stopping) options.onUnexpectedExit(this, this.exitText);
        resolve(this.exitText);
      });
    });
    this.process.once('error', (error) => {
      options.stderr(`${prefix}could not start: ${error.message}`);
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.exitText === null;
  }

  /** Its last lines of output, indented, for a message saying why it stopped. */
  lastLines(): string {
    return this.tail.length === 0 ? '  (no output)' : this.tail.map((line) => `  ${line}`).join('\n');
  }

  /**
   * The first match of `pattern` in a line it prints; rejects when it exits first or after
   * `timeoutMs` (none: no time limit), with its last lines.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              done();
              reject(
                new Error(
                  `${this.name} did not start within ${timeoutMs / 1000} s; its last lines:\n${this.lastLines()}`,
                ),
              );
            }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.lineListeners.delete(onLine);
      };
      const onLine = (line: string): void => {
        const match = line.match(pattern);
        if (match === null) return;
        done();
        resolve(match);
      };
      this.lineListeners.add(onLine);
      void this.exited.then((how) => {
        if (!this.lineListeners.has(onLine)) return;
        done();
        reject(new Error(`${this.name} ${how} before it served; its last lines:\n${this.lastLines()}`));
      });
    });
  }

  /**
   * SIGTERM (every role writes its last checkpoint on it), SIGKILL to its process group after
   * `timeoutMs`. Resolves with how it exited; `forced` when it had to be killed.
   */
  async stop(timeoutMs: number): Promise<{ how: string; forced: boolean }> {
    this.stopping = true;
    if (!this.running) return { how: this.exitText!, forced: false };
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      this.signalGroup('SIGKILL');
    }, timeoutMs);
    this.process.kill('SIGTERM');
    const how = await this.exited;
    clearTimeout(timer);
    return { how, forced };
  }

  /** SIGKILL now, with whatever it started (a second Ctrl-C). */
  kill(): void {
    this.stopping = true;
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.process.pid === undefined) return;
    try {
      // Detached: its pid is its process group's id, which holds whatever it spawned (nats-server).
      process.kill(-this.process.pid, signal);
    } catch {
      // Gone already.
    }
  }
}
