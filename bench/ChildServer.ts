import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HubOptions } from '../server/options.js';
import type { ChildReply, ChildRequest, ProcessUsage, ServerSpec } from './childProtocol.js';

const ENTRY = fileURLToPath(new URL('./serverProcess.ts', import.meta.url));
const START_TIMEOUT_MS = 120_000;
const CLOSE_TIMEOUT_MS = 15_000;

/** A hub or raw ws server in a child process of its own (see serverProcess.ts). Always `close()` it. */
export class ChildServer {
  private nextId = 1;
  private readonly pending = new Map<number, (usage: ProcessUsage) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (reply: ChildReply) => {
      if (reply.type !== 'usage') return;
      const { id, cpuMicros, rss, peakRss } = reply;
      this.pending.get(id)?.({ cpuMicros, rss, peakRss });
      this.pending.delete(id);
    });
  }

  static hub(options: Partial<HubOptions>): Promise<ChildServer> {
    return ChildServer.start({ kind: 'hub', options: { ...options } });
  }

  static wsEcho(): Promise<ChildServer> {
    return ChildServer.start({ kind: 'ws-echo' });
  }

  private static start(spec: ServerSpec): Promise<ChildServer> {
    // tsx as a loader, so the child runs the TypeScript sources as `npm run hub` does.
    const child = fork(ENTRY, [JSON.stringify(spec)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`the ${spec.kind} process did not start within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      child.on('message', (reply: ChildReply) => {
        if (reply.type === 'ready') {
          clearTimeout(timer);
          resolve(new ChildServer(child, reply.url));
        } else if (reply.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`the ${spec.kind} process failed to start: ${reply.message}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the ${spec.kind} process exited with code ${code} before it was ready`));
      });
    });
  }

  /** CPU time and memory of the server process; `resetPeak` starts a new peak afterwards. */
  usage(resetPeak = false): Promise<ProcessUsage> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ type: 'usage', id, resetPeak });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private send(request: ChildRequest): void {
    this.child.send(request);
  }
}
