import { io, type Socket } from 'socket.io-client';
import { ErrorCode, type HubErrorBody } from './errors.js';
import { decodeExamples, type Examples } from './examplesCodec.js';
import { bytesToFloats, floatsToBytes } from './floatCodec.js';
import { floatsToHalfBytes } from './halfCodec.js';
import {
  PROTOCOL_VERSION,
  type ClientToServerEvents,
  type LocalRoundPlan,
  type PulledBody,
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
  /**
   * Reconnect (with backoff) when the connection drops, say hello again, and retry the requests that
   * were in flight; a retried push keeps its id, so the hub applies it at most once. Default: off
   * (the connection ends; see onDisconnect).
   */
  readonly reconnect?: boolean;
  /**
   * The identity an earlier session was issued (a browser keeps it in localStorage): the hub gives
   * back the volunteer's trust. Absent: the hub issues one, kept for every reconnect (`identity`).
   */
  readonly identity?: string;
  /** A display name for the hub's leaderboard (1-32 letters, digits, spaces, `_ . -`). */
  readonly name?: string;
}

/** The hub's known-answer check: compute the gradient of `examples` at `weights`, answer with it. */
export interface KnownAnswerCheck {
  readonly checkId: string;
  readonly weights: Float32Array;
  readonly examples: Examples;
}

export type ConnectionState = 'connected' | 'reconnecting' | 'closed';

export interface PulledWeights {
  readonly weights: Float32Array;
  readonly versions: number[];
  readonly globalStep: number;
  readonly round?: number;
  /** Local mode: these weights are a round's, to be trained locally as the plan says. */
  readonly local?: LocalRoundPlan;
  /** The batch size the hub asks for next, when it sizes batches (`--target-step-ms`). */
  readonly batchSize?: number;
}

export type PushInput = Omit<PushRequest, 'gradient' | 'pushId'> & { readonly gradient: Float32Array };
export interface PushOutcome {
  /** The id the push went with: the hub (and each shard) applies one id at most once. */
  readonly pushId: string;
  readonly globalStep: number;
  readonly staleness: number;
  readonly duplicate?: boolean;
  /** The whole model after the push: asked with `pullAfter`, given in async mode. */
  readonly pulled?: PulledWeights;
}

type HubSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type RequestEvent = 'pull' | 'push' | 'unit:lease' | 'unit:complete' | 'check:get' | 'check:answer';
type AckReply<E extends keyof ClientToServerEvents> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
type ReplyBody<E extends keyof ClientToServerEvents> = Extract<AckReply<E>, { ok: true }>;

const DEFAULT_ACK_TIMEOUT_MS = 30_000;

/** A random id, so that push ids stay unique across reconnects and hub restarts. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The protocol, written once: the Node worker, the browser worker and the tests all speak to the hub
 * through this class. Websocket transport only (polling would move binary as base64).
 */
export class HubClient {
  private readonly socket: HubSocket;
  private readonly options: HubClientOptions;
  private readonly clientId = randomId();
  private pushCounter = 0;
  private session: Session;
  /** Resolves while registered; replaced by a pending one while reconnecting. */
  private registered: Promise<void> = Promise.resolve();
  private markRegistered: () => void = () => undefined;
  private state: ConnectionState = 'connected';
  private readonly stateListeners = new Set<(state: ConnectionState, detail: string) => void>();
  /** Incremented by every successful hello after the first: the hub has forgotten earlier leases. */
  private sessionNumber = 0;
  /** A hello in progress after the hub said NOT_REGISTERED (registerAgain). */
  private rejoining: Promise<void> | null = null;

  private constructor(socket: HubSocket, options: HubClientOptions, session: Session) {
    this.socket = socket;
    this.options = options;
    this.session = session;
    socket.on('disconnect', (reason) => this.onConnectionLost(reason));
    socket.on('connect', () => void this.onReconnected());
  }

  static async connect(options: HubClientOptions): Promise<HubClient> {
    const socket: HubSocket = io(options.url, {
      transports: ['websocket'],
      // The first connection fails fast; reconnection is switched on once it has succeeded.
      reconnection: false,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      timeout: options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', (error: Error & { data?: { code?: unknown } }) => {
          // A refusal by the hub (a ban) carries its code; anything else means the hub is not there.
          const code = error.data?.code;
          reject(
            typeof code === 'string'
              ? new HubRequestError(
                  code,
                  `the hub at ${options.url} refused the connection: ${error.message}`,
                )
              : new HubRequestError(
                  'UNREACHABLE',
                  `cannot reach the hub at ${options.url}: ${error.message}`,
                ),
          );
        });
      });
      const session = await hello(socket, options, options.identity);
      socket.io.reconnection(options.reconnect ?? false);
      return new HubClient(socket, options, session);
    } catch (error) {
      socket.disconnect();
      throw error;
    }
  }

  get workerId(): string {
    return this.session.workerId;
  }

  get config(): RunConfig {
    return this.session.config;
  }

  /** The volunteer's public name (as /api/status and /api/volunteers show it). */
  get volunteer(): string {
    return this.session.volunteer;
  }

  /** The volunteer's identity token from the hub: keep it to be known again (it is a secret). */
  get identity(): string {
    return this.session.identity;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Changes after each reconnect: leases and sync rounds of an earlier session are gone. */
  get sessionId(): number {
    return this.sessionNumber;
  }

  /** Calls `listener` once when the connection to the hub is lost for good (or, without `reconnect`, at all). */
  onDisconnect(listener: (reason: string) => void): void {
    const wrapped = (state: ConnectionState, detail: string) => {
      if (state === 'closed' || (state === 'reconnecting' && !this.options.reconnect)) {
        this.stateListeners.delete(wrapped);
        listener(detail);
      }
    };
    this.stateListeners.add(wrapped);
  }

  /** Calls `listener` on every change of connection state. Returns a function that unsubscribes. */
  onStateChange(listener: (state: ConnectionState, detail: string) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  async pull(selection: { shards?: number[]; keys?: string[] } = {}): Promise<PulledWeights> {
    // Sync mode: a pull may wait for the next round to open.
    return pulledWeights(await this.request('pull', selection, this.config.roundTimeoutMs, true));
  }

  /** Pushes a gradient, or with `localSteps` a local round's weight change (encoded by `compressChanges`). */
  async push(input: PushInput): Promise<PushOutcome> {
    const { compress, compressChanges } = this.config;
    const half = (input.localSteps === undefined ? compress : compressChanges) === 'fp16';
    const request: PushRequest = {
      ...input,
      pushId: `${this.clientId}-${++this.pushCounter}`,
      ...(half
        ? { encoding: 'f16', gradient: floatsToHalfBytes(input.gradient) }
        : { gradient: floatsToBytes(input.gradient) }),
    };
    // Sync mode: the ack comes when the round closes. A retry keeps the id: the hub answers it
    // with the first outcome if the first attempt had arrived.
    const { pulled, ...outcome } = await this.request('push', request, this.config.roundTimeoutMs, true);
    const acknowledged = { ...outcome, pushId: request.pushId };
    return pulled ? { ...acknowledged, pulled: pulledWeights(pulled) } : acknowledged;
  }

  async leaseUnit(): Promise<WorkUnit> {
    return (await this.request('unit:lease', {}, 0, true)).unit;
  }

  /** Not retried: a lease does not survive a reconnect (the hub gives the unit to someone else). */
  async completeUnit(unitId: number): Promise<number> {
    return (await this.request('unit:complete', { unitId }, 0, false)).epoch;
  }

  /** Asks for the known-answer check (RunConfig.knownAnswer): the hub counts pushes once it passed. */
  async knownAnswerCheck(): Promise<KnownAnswerCheck> {
    const { checkId, weights, examples } = await this.request('check:get', {}, 0, false);
    return { checkId, weights: bytesToFloats(weights), examples: decodeExamples(examples) };
  }

  /** Answers the check; refused KNOWN_ANSWER_FAILED when the gradient is not the hub's. */
  async answerKnownAnswer(
    checkId: string,
    gradient: Float32Array,
    loss: number,
  ): Promise<{ cosine: number; normRatio: number }> {
    const { cosine, normRatio } = await this.request(
      'check:answer',
      { checkId, loss, gradient: floatsToBytes(gradient) },
      0,
      false,
    );
    return { cosine, normRatio };
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
    this.setState('closed', 'closed by the client');
    this.socket.disconnect();
  }

  private async request<E extends RequestEvent>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
    extraTimeoutMs: number,
    retryAfterReconnect: boolean,
  ): Promise<ReplyBody<E>> {
    const timeoutMs = (this.options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS) + extraTimeoutMs;
    for (;;) {
      if (this.state === 'closed') throw new HubRequestError('UNREACHABLE', `${event}: the client is closed`);
      await this.registered;
      const sentIn = this.sessionNumber;
      let reply: unknown;
      try {
        reply = await this.emitUnlessDisconnected(event, payload, timeoutMs);
      } catch (error) {
        // Read afresh: the state may have changed while the request was in flight.
        const state = this.state as ConnectionState;
        const lost = state !== 'connected';
        if (lost && retryAfterReconnect && this.options.reconnect && state !== 'closed') continue;
        const reason = lost ? 'the connection was lost' : `no answer within ${timeoutMs} ms`;
        throw new HubRequestError(lost ? 'UNREACHABLE' : 'TIMEOUT', `${event}: ${reason} (${error})`);
      }
      if (isNotRegistered(reply) && this.options.reconnect) {
        // The hub forgot this worker while the socket stayed up: a coordinator behind a gateway was
        // restarted, or a standby took over. Register again and carry on, as after a reconnect.
        await this.registerAgain(sentIn);
        if (retryAfterReconnect) continue;
      }
      return unwrap(event, reply as AckReply<E>);
    }
  }

  /**
   * Says hello again on the open socket (once for all the requests refused together: a request sent
   * in an earlier session is simply retried). Leases and rounds of the old session are gone, as
   * after a reconnect (`sessionId` changes).
   */
  private registerAgain(sentIn: number): Promise<void> {
    if (sentIn !== this.sessionNumber) return Promise.resolve();
    this.rejoining ??= (async () => {
      try {
        this.registered = new Promise((resolve) => (this.markRegistered = resolve));
        this.setState('reconnecting', 'the hub no longer knows this worker; saying hello again');
        await this.rehello();
      } finally {
        this.rejoining = null;
      }
    })();
    return this.rejoining;
  }

  /** Emits with an ack timeout; rejects at once when the connection drops meanwhile. */
  private emitUnlessDisconnected(event: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onLost = () => reject(new Error('disconnected'));
      this.socket.once('disconnect', onLost);
      // socket.io's typed emitWithAck cannot follow a generic event name; the reply type is fixed by
      // ClientToServerEvents[E] all the same.
      const emitter = this.socket.timeout(timeoutMs) as unknown as {
        emitWithAck(e: string, p: unknown): Promise<unknown>;
      };
      emitter.emitWithAck(event, payload).then(
        (reply) => {
          this.socket.off('disconnect', onLost);
          resolve(reply);
        },
        (error: unknown) => {
          this.socket.off('disconnect', onLost);
          reject(error);
        },
      );
    });
  }

  private onConnectionLost(reason: string): void {
    if (this.state === 'closed') return;
    // Messages socket.io buffered while offline would reach the hub before the new hello.
    this.socket.sendBuffer = [];
    this.registered = new Promise((resolve) => (this.markRegistered = resolve));
    if (!this.options.reconnect) {
      this.setState('closed', reason);
      return;
    }
    this.setState('reconnecting', reason);
    // A disconnect the server asked for is not retried by socket.io itself.
    if (reason === 'io server disconnect')
      setTimeout(() => this.state !== 'closed' && this.socket.connect(), 1_000);
  }

  private async onReconnected(): Promise<void> {
    if (this.state !== 'reconnecting') return;
    await this.rehello();
  }

  /** Hello on the current socket; the new session replaces the old, or the client closes. */
  private async rehello(): Promise<void> {
    try {
      const session = await hello(this.socket, this.options, this.identity);
      if (session.config.model !== this.config.model || session.config.params !== this.config.params) {
        this.setState('closed', `the hub now trains ${session.config.model}; start again`);
        this.socket.disconnect();
        return;
      }
      this.session = session;
      this.sessionNumber++;
      this.setState('connected', `reconnected as ${session.workerId}`);
      this.markRegistered();
    } catch (error) {
      this.setState(
        'closed',
        `hello after reconnecting failed: ${error instanceof Error ? error.message : error}`,
      );
      this.socket.disconnect();
    }
  }

  private setState(state: ConnectionState, detail: string): void {
    if (this.state === state || this.state === 'closed') return;
    this.state = state;
    if (state === 'closed') this.markRegistered(); // release waiters; they see 'closed' and stop
    for (const listener of [...this.stateListeners]) listener(state, detail);
  }
}

interface Session {
  readonly workerId: string;
  readonly identity: string;
  readonly volunteer: string;
  readonly config: RunConfig;
}

async function hello(
  socket: HubSocket,
  options: HubClientOptions,
  identity: string | undefined,
): Promise<Session> {
  const reply = await socket.timeout(options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS).emitWithAck('hello', {
    protocolVersion: PROTOCOL_VERSION,
    backend: options.backend,
    device: options.device,
    identity,
    name: options.name,
  });
  const { workerId, config, identity: issued, volunteer } = unwrap('hello', reply);
  return { workerId, config, identity: issued, volunteer };
}

function isNotRegistered(reply: unknown): boolean {
  const body = reply as Reply<object>;
  return !body.ok && (body as Extract<Reply<object>, { ok: false }>).error.code === ErrorCode.NotRegistered;
}

function unwrap<R extends Reply<object>>(event: string, reply: R): Extract<R, { ok: true }> {
  if (reply.ok) return reply as Extract<R, { ok: true }>;
  const error: HubErrorBody = (reply as Extract<Reply<object>, { ok: false }>).error;
  throw new HubRequestError(error.code, `${event} refused: ${error.code}: ${error.message}`);
}

function pulledWeights(body: PulledBody): PulledWeights {
  return {
    weights: bytesToFloats(body.weights),
    versions: body.versions,
    globalStep: body.globalStep,
    round: body.round,
    local: body.local,
    batchSize: body.batchSize,
  };
}
