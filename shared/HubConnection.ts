/**
 * The worker's socket to the hub and the session on it: the first connection and hello, the
 * connection state and its listeners, reconnecting (a new hello, a new session), and registering
 * again when the hub forgot this worker on an open socket. Apart from HubClient, which only makes
 * requests on top of this and never touches the socket's lifecycle itself.
 */
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  type ClientToServerEvents,
  type RunConfig,
  type ServerToClientEvents,
} from './protocol.js';
import { HubRequestError, unwrap } from './hubReplies.js';

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

export type ConnectionState = 'connected' | 'reconnecting' | 'closed';

/** What a hello gave this worker. */
export interface Session {
  readonly workerId: string;
  readonly identity: string;
  readonly volunteer: string;
  readonly config: RunConfig;
}

type HubSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export const DEFAULT_ACK_TIMEOUT_MS = 30_000;

export class HubConnection {
  readonly options: HubClientOptions;
  private readonly socket: HubSocket;
  private current: Session;
  /** Resolves while registered; replaced by a pending one while reconnecting. */
  private registeredNow: Promise<void> = Promise.resolve();
  private markRegistered: () => void = () => undefined;
  private connectionState: ConnectionState = 'connected';
  private readonly stateListeners = new Set<(state: ConnectionState, detail: string) => void>();
  /** Incremented by every successful hello after the first: the hub has forgotten earlier leases. */
  private sessionNumber = 0;
  /** A hello in progress after the hub said NOT_REGISTERED (registerAgain). */
  private rejoining: Promise<void> | null = null;

  private constructor(socket: HubSocket, options: HubClientOptions, session: Session) {
    this.socket = socket;
    this.options = options;
    this.current = session;
    socket.on('disconnect', (reason) => this.onConnectionLost(reason));
    socket.on('connect', () => void this.onReconnected());
  }

  /** Connects (failing fast), says hello, then lets socket.io reconnect when `reconnect` asks it to. */
  static async open(options: HubClientOptions): Promise<HubConnection> {
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
      return new HubConnection(socket, options, session);
    } catch (error) {
      socket.disconnect();
      throw error;
    }
  }

  /** The latest hello's session (replaced at each reconnect). */
  get session(): Session {
    return this.current;
  }

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** Changes after each reconnect: leases and sync rounds of an earlier session are gone. */
  get sessionId(): number {
    return this.sessionNumber;
  }

  /** Resolves once registered (at once while connected); a request waits on it before it is sent. */
  get registered(): Promise<void> {
    return this.registeredNow;
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

  close(): void {
    this.setState('closed', 'closed by the client');
    this.socket.disconnect();
  }

  /**
   * Says hello again on the open socket (once for all the requests refused together: a request sent
   * in an earlier session is simply retried). Leases and rounds of the old session are gone, as
   * after a reconnect (`sessionId` changes).
   */
  registerAgain(sentIn: number): Promise<void> {
    if (sentIn !== this.sessionNumber) return Promise.resolve();
    this.rejoining ??= (async () => {
      try {
        this.registeredNow = new Promise((resolve) => (this.markRegistered = resolve));
        this.setState('reconnecting', 'the hub no longer knows this worker; saying hello again');
        await this.rehello();
      } finally {
        this.rejoining = null;
      }
    })();
    return this.rejoining;
  }

  /** Emits with an ack timeout; rejects at once when the connection drops meanwhile. */
  emitUnlessDisconnected(event: string, payload: unknown, timeoutMs: number): Promise<unknown> {
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
    if (this.connectionState === 'closed') return;
    // Messages socket.io buffered while offline would reach the hub before the new hello.
    this.socket.sendBuffer = [];
    this.registeredNow = new Promise((resolve) => (this.markRegistered = resolve));
    if (!this.options.reconnect) {
      this.setState('closed', reason);
      return;
    }
    this.setState('reconnecting', reason);
    // A disconnect the server asked for is not retried by socket.io itself.
    if (reason === 'io server disconnect')
      setTimeout(() => this.connectionState !== 'closed' && this.socket.connect(), 1_000);
  }

  private async onReconnected(): Promise<void> {
    if (this.connectionState !== 'reconnecting') return;
    await this.rehello();
  }

  /** Hello on the current socket; the new session replaces the old, or the client closes. */
  private async rehello(): Promise<void> {
    try {
      const session = await hello(this.socket, this.options, this.current.identity);
      const { config } = this.current;
      if (session.config.model !== config.model || session.config.params !== config.params) {
        this.setState('closed', `the hub now trains ${session.config.model}; start again`);
        this.socket.disconnect();
        return;
      }
      this.current = session;
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
    if (this.connectionState === state || this.connectionState === 'closed') return;
    this.connectionState = state;
    if (state === 'closed') this.markRegistered(); // release waiters; they see 'closed' and stop
    for (const listener of [...this.stateListeners]) listener(state, detail);
  }
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
