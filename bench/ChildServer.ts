import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { HubOptions } from '../server/options.js';
import type { ChildReply, ChildRequest, ProcessUsage, RelayState, ServerSpec } from './childProtocol.js';
import type { LinkProfile } from './LinkRelay.js';

const ENTRY = fileURLToPath(new URL('./serverProcess.ts', import.meta.url));
const START_TIMEOUT_MS = 120_000;
const CLOSE_TIMEOUT_MS = 15_000;
/**
 * A relay process's scheduling priority (nice; lower runs first): the link it emulates is the network,
 * which the CPU load of the tabs and the hub on these cores must not slow down. Raising it needs
 * root (CAP_SYS_NICE); without, the relay runs at the default priority.
 */
const RELAY_NICE = -10;

/**
 * A hub, raw ws server or link relay in a child process of its own (see serverProcess.ts). Always
 * `close()` it.
 */
export class ChildServer {
  private nextId = 1;
  private readonly pending = new Map<number, (usage: ProcessUsage) => void>();
  private readonly pendingRelay = new Map<number, (state: RelayState) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly kind: ServerSpec['kind'],
  ) {
    child.on('message', (reply: ChildReply) => {
      if (reply.type === 'usage') {
        const { id, cpuMicros, rss, peakRss } = reply;
        this.pending.get(id)?.({ cpuMicros, rss, peakRss });
        this.pending.delete(id);
      } else if (reply.type === 'relay') {
        const { id, traffic, lateness } = reply;
        this.pendingRelay.get(id)?.({ traffic, lateness });
        this.pendingRelay.delete(id);
      }
    });
  }

  static hub(options: Partial<HubOptions>): Promise<ChildServer> {
    return ChildServer.start({ kind: 'hub', options: { ...options } });
  }

  static wsEcho(): Promise<ChildServer> {
    return ChildServer.start({ kind: 'ws-echo' });
  }

  /**
   * A LinkRelay (127.0.0.1, port 0) to `targetUrl` over `link` in a process of its own, at a raised
   * priority where allowed: `url` is the relay's.
   */
  static async relay(targetUrl: string, link: LinkProfile | null): Promise<ChildServer> {
    return ChildServer.start({ kind: 'relay', target: targetUrl, link }, RELAY_NICE);
  }

  private static start(spec: ServerSpec, nice?: number): Promise<ChildServer> {
    // tsx as a loader, so the child runs the TypeScript sources as `npm run hub` does.
    const child = fork(ENTRY, [JSON.stringify(spec)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (nice !== undefined && child.pid !== undefined) {
      try {
        setPriority(child.pid, nice);
      } catch {
        // Not permitted (not root): the default priority.
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`the ${spec.kind} process did not start within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      child.on('message', (reply: ChildReply) => {
        if (reply.type === 'ready') {
          clearTimeout(timer);
          resolve(new ChildServer(child, reply.url, spec.kind));
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

  /** A relay process's traffic and lateness so far. */
  relayState(): Promise<RelayState> {
    if (this.kind !== 'relay') return Promise.reject(new Error(`a ${this.kind} process is not a relay`));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pendingRelay.set(id, resolve);
      this.send({ type: 'relay', id });
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
