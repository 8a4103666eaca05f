/**
 * The protocol's requests (pull, push, leases, the known-answer check, examples) and their codecs,
 * retried across reconnects as each one allows. The socket, the session and reconnecting are
 * HubConnection's; replies become values or HubRequestErrors in hubReplies.ts.
 */
import { decodeExamples, type Examples } from './examplesCodec.js';
import { bytesToFloats, floatsToBytes } from './floatCodec.js';
import { floatsToHalfBytes } from './halfCodec.js';
import {
  DEFAULT_ACK_TIMEOUT_MS,
  HubConnection,
  type ConnectionState,
  type HubClientOptions,
} from './HubConnection.js';
import { HubRequestError, isNotRegistered, unwrap } from './hubReplies.js';
import type {
  ClientToServerEvents,
  LocalRoundPlan,
  PulledBody,
  PushRequest,
  RunConfig,
  WorkUnit,
} from './protocol.js';

export { HubRequestError } from './hubReplies.js';
export type { ConnectionState, HubClientOptions } from './HubConnection.js';

/** The hub's known-answer check: compute the gradient of `examples` at `weights`, answer with it. */
export interface KnownAnswerCheck {
  readonly checkId: string;
  readonly weights: Float32Array;
  readonly examples: Examples;
}

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

type RequestEvent = 'pull' | 'push' | 'unit:lease' | 'unit:complete' | 'check:get' | 'check:answer';
type AckReply<E extends keyof ClientToServerEvents> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
type ReplyBody<E extends keyof ClientToServerEvents> = Extract<AckReply<E>, { ok: true }>;

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
  private readonly connection: HubConnection;
  private readonly clientId = randomId();
  private pushCounter = 0;

  private constructor(connection: HubConnection) {
    this.connection = connection;
  }

  static async connect(options: HubClientOptions): Promise<HubClient> {
    return new HubClient(await HubConnection.open(options));
  }

  get workerId(): string {
    return this.connection.session.workerId;
  }

  get config(): RunConfig {
    return this.connection.session.config;
  }

  /** The volunteer's public name (as /api/status and /api/volunteers show it). */
  get volunteer(): string {
    return this.connection.session.volunteer;
  }

  /** The volunteer's identity token from the hub: keep it to be known again (it is a secret). */
  get identity(): string {
    return this.connection.session.identity;
  }

  get connected(): boolean {
    return this.connection.state === 'connected';
  }

  /** Changes after each reconnect: leases and sync rounds of an earlier session are gone. */
  get sessionId(): number {
    return this.connection.sessionId;
  }

  /** Calls `listener` once when the connection to the hub is lost for good (or, without `reconnect`, at all). */
  onDisconnect(listener: (reason: string) => void): void {
    this.connection.onDisconnect(listener);
  }

  /** Calls `listener` on every change of connection state. Returns a function that unsubscribes. */
  onStateChange(listener: (state: ConnectionState, detail: string) => void): () => void {
    return this.connection.onStateChange(listener);
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
    const url = new URL(unit.url, this.connection.options.url);
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
    this.connection.close();
  }

  private async request<E extends RequestEvent>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
    extraTimeoutMs: number,
    retryAfterReconnect: boolean,
  ): Promise<ReplyBody<E>> {
    const { connection } = this;
    const { options } = connection;
    const timeoutMs = (options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS) + extraTimeoutMs;
    for (;;) {
      if (connection.state === 'closed')
        throw new HubRequestError('UNREACHABLE', `${event}: the client is closed`);
      await connection.registered;
      const sentIn = connection.sessionId;
      let reply: unknown;
      try {
        reply = await connection.emitUnlessDisconnected(event, payload, timeoutMs);
      } catch (error) {
        // Read afresh: the state may have changed while the request was in flight.
        const state = connection.state as ConnectionState;
        const lost = state !== 'connected';
        if (lost && retryAfterReconnect && options.reconnect && state !== 'closed') continue;
        const reason = lost ? 'the connection was lost' : `no answer within ${timeoutMs} ms`;
        throw new HubRequestError(lost ? 'UNREACHABLE' : 'TIMEOUT', `${event}: ${reason} (${error})`);
      }
      if (isNotRegistered(reply) && options.reconnect) {
        // The hub forgot this worker while the socket stayed up: a coordinator behind a gateway was
        // restarted, or a standby took over. Register again and carry on, as after a reconnect.
        await connection.registerAgain(sentIn);
        if (retryAfterReconnect) continue;
      }
      return unwrap(event, reply as AckReply<E>);
    }
  }
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
