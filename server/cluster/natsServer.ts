import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNatsServer, HOW_TO_GET_ONE } from '../../scripts/find-nats-server.mjs';

/**
 * A real `nats-server` child process on 127.0.0.1 for tests and benches: a free port, a config file
 * that raises the payload limits, and a `close()` that always kills it.
 */

/**
 * NATS refuses a message above `max_payload` (default 1 MB). The biggest shard of `deep-cnn` is
 * ~4.4 MB and the whole model 13 MB, so 64 MB leaves room for any model here sent whole. nats-server
 * 2.9 refuses a `max_payload` above `max_pending` (itself 64 MB by default) and warns above 8 MB.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/**
 * Bytes the server may queue for one client before it drops it as a slow consumer: room for several
 * whole-model messages in flight to one shard (a gateway fanning out a burst of pushes).
 */
export const DEFAULT_MAX_PENDING_BYTES = 256 * 1024 * 1024;

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;
/** Attempts when another process takes the free port between the probe and the server's bind. */
const PORT_ATTEMPTS = 3;
/** The tail of the server's output kept for error messages, in characters. */
const LOG_TAIL_CHARS = 4_000;

export interface NatsServerOptions {
  readonly maxPayloadBytes?: number;
  readonly maxPendingBytes?: number;
  /**
   * Where JetStream keeps its streams (the coordinators' key-value buckets); default: a temporary
   * folder removed on close. JetStream is always on: coordinators keep their state in it.
   */
  readonly storeDir?: string;
}

export interface RunningNatsServer {
  /** e.g. nats://127.0.0.1:40123 */
  readonly url: string;
  readonly port: number;
  readonly maxPayloadBytes: number;
  /** Kills the server (SIGTERM, then SIGKILL) and removes its config. Safe to call twice. */
  close(): Promise<void>;
}

export class NatsServerMissingError extends Error {
  constructor(problem: string) {
    super(`${problem}.\n${HOW_TO_GET_ONE}`);
    this.name = 'NatsServerMissingError';
  }
}

/** The `nats-server` config file text for these limits, with JetStream storing in `storeDir`. */
export function natsServerConfig(
  maxPayloadBytes: number,
  maxPendingBytes: number,
  storeDir?: string,
): string {
  if (maxPayloadBytes > maxPendingBytes) {
    // nats-server would refuse to start with the same complaint, less clearly.
    throw new RangeError(`max_payload (${maxPayloadBytes}) cannot be above max_pending (${maxPendingBytes})`);
  }
  const limits = `max_payload: ${maxPayloadBytes}\nmax_pending: ${maxPendingBytes}\n`;
  return storeDir === undefined
    ? limits
    : `${limits}jetstream {\n  store_dir: ${JSON.stringify(storeDir)}\n}\n`;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<RunningNatsServer> {
  const found = findNatsServer();
  if (found.path === null) throw new NatsServerMissingError(found.problem);
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxPendingBytes = options.maxPendingBytes ?? Math.max(DEFAULT_MAX_PENDING_BYTES, maxPayloadBytes);
  const dir = await mkdtemp(join(tmpdir(), 'nats-server-'));
  const config = join(dir, 'nats-server.conf');
  await writeFile(
    config,
    natsServerConfig(maxPayloadBytes, maxPendingBytes, options.storeDir ?? join(dir, 'jetstream')),
  );
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const child = spawn(found.path, ['-c', config, '-a', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child);
    // A test process that dies without close() must not leave a server behind.
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    const close = async (): Promise<void> => {
      process.off('exit', killOnExit);
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitUntilServing(child, port, output);
      return { url: `nats://127.0.0.1:${port}`, port, maxPayloadBytes, close: once(close) };
    } catch (error) {
      process.off('exit', killOnExit);
      await stop(child);
      lastError = error;
      if (!output().includes('address already in use')) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

/** A port nothing listens on at this moment (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function collectOutput(child: ChildProcess): () => string {
  let text = '';
  const append = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => text;
}

/**
 * Resolves once the server answers a TCP connection with its INFO line; rejects when it exits first
 * or does not come up in time.
 */
async function waitUntilServing(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited: string | null = null;
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
  };
  child.once('exit', onExit);
  try {
    while (Date.now() < deadline) {
      if (exited !== null) throw new Error(`nats-server ${exited} before serving:\n${output()}`);
      if (await sendsInfo(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(
      `nats-server did not accept connections on port ${port} within ${START_TIMEOUT_MS} ms:\n${output()}`,
    );
  } finally {
    child.off('exit', onExit);
  }
}

function sendsInfo(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('utf8').startsWith('INFO ')));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | null = null;
  return () => (result ??= fn());
}
