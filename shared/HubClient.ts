import { io, type Socket } from 'socket.io-client';
import type { HubErrorBody } from './errors.js';
import { decodeExamples, type Examples } from './examplesCodec.js';
import { bytesToFloats, floatsToBytes } from './floatCodec.js';
import {
  PROTOCOL_VERSION,
  type ClientToServerEvents,
  type PushRequest,
  type Reply,
  type RunConfig,
  type ServerToClientEvents,
  type WorkUnit,
} from './protocol.js';

/** A refusal from the hub (named code) or a failure to reach it (code 'UNREACHABLE' / 'TIMEOUT'). */
export class HubRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HubRequestError';
  }
}

export interface HubClientOptions {
  /** The hub's base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly backend: string;
  readonly device?: string;
  /** How long to wait for an answer to one request (sync pushes add the round timeout). */
  readonly ackTimeoutMs?: number;
}

export interface PulledWeights {
  readonly weights: Float32Array;
  readonly versions: number[];
  readonly globalStep: number;
  readonly round?: number;
}

export type PushInput = Omit<PushRequest, 'gradient' | 'pushId'> & { readonly gradient: Float32Array };

type HubSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const DEFAULT_ACK_TIMEOUT_MS = 30_000;

/**
 * The protocol, written once: the Node worker, the browser worker and the tests all speak to the hub
 * through this class. Websocket transport only (polling would move binary as base64).
 */
export class HubClient {
  private pushCounter = 0;

  private constructor(
    private readonly socket: HubSocket,
    private readonly options: HubClientOptions,
    readonly workerId: string,
    readonly config: RunConfig,
  ) {}

  static async connect(options: HubClientOptions): Promise<HubClient> {
    const socket: HubSocket = io(options.url, {
      transports: ['websocket'],
      reconnection: false,
      timeout: options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', (error) =>
          reject(
            new HubRequestError('UNREACHABLE', `cannot reach the hub at ${options.url}: ${error.message}`),
          ),
        );
      });
      const reply = await socket
        .timeout(options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS)
        .emitWithAck('hello', {
          protocolVersion: PROTOCOL_VERSION,
          backend: options.backend,
          device: options.device,
        });
      const { workerId, config } = unwrap('hello', reply);
      return new HubClient(socket, options, workerId, config);
    } catch (error) {
      socket.disconnect();
      throw error;
    }
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Calls `listener` once when the connection to the hub is lost. */
  onDisconnect(listener: (reason: string) => void): void {
    this.socket.once('disconnect', listener);
  }

  async pull(selection: { shards?: number[]; keys?: string[] } = {}): Promise<PulledWeights> {
    // Sync mode: a pull may wait for the next round to open.
    const reply = await this.request('pull', selection, this.config.roundTimeoutMs);
    return {
      weights: bytesToFloats(reply.weights),
      versions: reply.versions,
      globalStep: reply.globalStep,
      round: reply.round,
    };
  }

  async push(input: PushInput): Promise<{ globalStep: number; staleness: number }> {
    const request: PushRequest = {
      ...input,
      pushId: `${this.workerId}-${++this.pushCounter}`,
      gradient: floatsToBytes(input.gradient),
    };
    // Sync mode: the ack comes when the round closes.
    return this.request('push', request, this.config.roundTimeoutMs);
  }

  async leaseUnit(): Promise<WorkUnit> {
    return (await this.request('unit:lease', {})).unit;
  }

  async completeUnit(unitId: number): Promise<number> {
    return (await this.request('unit:complete', { unitId })).epoch;
  }

  /** Downloads a work unit's examples (binary over HTTP). */
  async fetchExamples(unit: WorkUnit): Promise<Examples> {
    const url = new URL(unit.url, this.options.url);
    const response = await fetch(url);
    if (!response.ok) {
      throw new HubRequestError(
        'UNREACHABLE',
        `GET ${url} answered ${response.status}: ${await response.text()}`,
      );
    }
    return decodeExamples(await response.arrayBuffer());
  }

  close(): void {
    this.socket.disconnect();
  }

  private async request<E extends 'pull' | 'push' | 'unit:lease' | 'unit:complete'>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
    extraTimeoutMs = 0,
  ): Promise<ReplyBody<E>> {
    const timeoutMs = (this.options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS) + extraTimeoutMs;
    let reply: unknown;
    try {
      // socket.io's typed emitWithAck cannot follow a generic event name; the reply type is fixed
      // by ClientToServerEvents[E] all the same.
      const emit = this.socket.timeout(timeoutMs).emitWithAck as (e: string, p: unknown) => Promise<unknown>;
      reply = await emit.call(this.socket.timeout(timeoutMs), event, payload);
    } catch (error) {
      const reason = this.socket.connected ? `no answer within ${timeoutMs} ms` : 'the connection was lost';
      throw new HubRequestError(
        this.socket.connected ? 'TIMEOUT' : 'UNREACHABLE',
        `${event}: ${reason} (${error})`,
      );
    }
    return unwrap(event, reply as AckReply<E>);
  }
}

type AckReply<E extends keyof ClientToServerEvents> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
type ReplyBody<E extends keyof ClientToServerEvents> = Extract<AckReply<E>, { ok: true }>;

function unwrap<R extends Reply<object>>(event: string, reply: R): Extract<R, { ok: true }> {
  if (reply.ok) return reply as Extract<R, { ok: true }>;
  const error: HubErrorBody = (reply as Extract<Reply<object>, { ok: false }>).error;
  throw new HubRequestError(error.code, `${event} refused: ${error.code}: ${error.message}`);
}
