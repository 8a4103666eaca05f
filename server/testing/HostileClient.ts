import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { HostileMessages, type HostileContext, type HostileMessage } from './hostileMessages.js';

/** What the hub answered to a stream of hostile messages. */
export interface HostileTally {
  /** Messages sent (each message of a flood counts). */
  sent: number;
  /** Pushes the hub accepted (only well-formed huge-norm gradients can be). */
  accepted: number;
  /** Other messages answered `ok` (pulls within the connection's budget). */
  answered: number;
  /** Refusals by code: acks with `ok: false` and `hub:error` events. */
  readonly refused: Map<string, number>;
  /** Messages still unanswered when the hub closed their connection (the rest of a flood). */
  unanswered: number;
  /** Messages that got no answer although their connection stayed open: must stay 0. */
  lost: number;
  /** Raw frames after which the connection went on as if nothing had come: must stay 0. */
  ignored: number;
  /** Connections the hub closed, by the code it gave first ('none' if it gave none). */
  readonly closedByHub: Map<string, number>;
  sessions: number;
}

export function emptyTally(): HostileTally {
  return {
    sent: 0,
    accepted: 0,
    answered: 0,
    refused: new Map(),
    unanswered: 0,
    lost: 0,
    ignored: 0,
    closedByHub: new Map(),
    sessions: 0,
  };
}

type Reply = { ok: boolean; error?: { code: string } };

/** How long an answer may take before a message counts as lost (the hub answers in milliseconds). */
const ANSWER_TIMEOUT_MS = 10_000;
/** How long a raw frame's refusal may take before the next frame is sent to judge it. */
const RAW_FRAME_WAIT_MS = 300;

/**
 * A client that sends a hub hostile messages over real sockets until it has sent its quota: each
 * connection starts with a pull before hello, then registers and learns the shard versions, then
 * sends from the catalogue until the hub closes it (strikes, a malformed frame) and a new one opens.
 */
export class HostileClient {
  private readonly messages: HostileMessages;

  constructor(
    private readonly url: string,
    private readonly context: Pick<HostileContext, 'params' | 'shards' | 'units'>,
    seed: number,
    options: { hugeNorms: boolean; floods: boolean; lies?: boolean },
    private readonly tally: HostileTally,
  ) {
    this.messages = new HostileMessages(seed, options);
  }

  /** Sends until the shared tally has `quota` messages. */
  async run(quota: number): Promise<void> {
    while (this.tally.sent < quota) await this.session(quota);
  }

  private async session(quota: number): Promise<void> {
    const socket = io(this.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    this.tally.sessions++;
    let closingCode = 'none';
    let hubErrors = 0;
    socket.on('hub:error', (error: { code: string; event?: string }) => {
      hubErrors++;
      this.count(error.code);
      if (error.event === 'disconnect') closingCode = error.code;
    });
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      await this.send(socket, { kind: 'wrong-types', event: 'pull', args: [{}], ack: true });
      const hello = (await socket
        .timeout(ANSWER_TIMEOUT_MS)
        .emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, backend: 'hostile' })) as Reply;
      if (!hello.ok) throw new Error(`hello refused: ${JSON.stringify(hello)}`);
      const pulled = (await socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('pull', {})) as Reply & {
        versions: number[];
      };
      const context = { ...this.context, versions: pulled.versions };
      while (socket.connected && this.tally.sent < quota) {
        const message = this.messages.next(context);
        await (message.kind === 'raw-frame'
          ? this.sendRaw(socket, message.frame, () => hubErrors)
          : message.kind === 'flood'
            ? this.flood(socket, message.count)
            : message.ack
              ? this.send(socket, message)
              : this.sendWithoutAck(socket, message, () => hubErrors));
      }
    } finally {
      const reason = socket.connected ? null : await closed;
      if (reason !== null && reason !== 'io client disconnect') {
        this.tally.closedByHub.set(closingCode, (this.tally.closedByHub.get(closingCode) ?? 0) + 1);
      }
      socket.disconnect();
    }
  }

  private async send(socket: Socket, message: Extract<HostileMessage, { event: string }>): Promise<void> {
    this.tally.sent++;
    try {
      const reply = (await socket
        .timeout(ANSWER_TIMEOUT_MS)
        .emitWithAck(message.event, ...message.args)) as Reply;
      if (reply.ok && message.event === 'push') this.tally.accepted++;
      else if (reply.ok) this.tally.answered++;
      else this.count(reply.error?.code ?? 'NO_CODE');
    } catch {
      if (socket.connected) this.tally.lost++;
      else this.tally.unanswered++;
    }
  }

  /** No ack callback: the refusal comes as a `hub:error` event. */
  private async sendWithoutAck(
    socket: Socket,
    message: Extract<HostileMessage, { event: string }>,
    hubErrors: () => number,
  ): Promise<void> {
    this.tally.sent++;
    const before = hubErrors();
    socket.emit(message.event, ...message.args);
    await this.until(socket, () => hubErrors() > before);
  }

  /**
   * A frame socket.io cannot decode: the hub says MALFORMED_FRAME and closes the connection. A frame
   * that starts a packet (a header that announces binary parts) is judged with the next frame: a
   * pull follows it, and must not be answered.
   */
  private async sendRaw(socket: Socket, frame: string | Uint8Array, hubErrors: () => number): Promise<void> {
    this.tally.sent++;
    const before = hubErrors();
    // Below socket.io: an engine.io message whose payload is not a socket.io packet.
    (socket.io.engine as unknown as { write(data: string | Uint8Array): void }).write(frame);
    const judged = () => hubErrors() > before || !socket.connected;
    await this.until(socket, judged, RAW_FRAME_WAIT_MS);
    if (judged()) return;
    this.tally.sent++;
    const probe = (await socket
      .timeout(ANSWER_TIMEOUT_MS)
      .emitWithAck('pull', {})
      .catch(() => null)) as Reply | null;
    if (probe !== null) this.tally.ignored++;
    else if (socket.connected) this.tally.lost++;
    else this.tally.unanswered++;
  }

  private async flood(socket: Socket, count: number): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, () =>
        this.send(socket, { kind: 'no-ack', event: 'pull', args: [{}], ack: true }),
      ),
    );
  }

  /** Waits for `done`, or for the connection to close; a lost answer otherwise (unless `wait` is given). */
  private async until(socket: Socket, done: () => boolean, wait?: number): Promise<void> {
    const deadline = Date.now() + (wait ?? ANSWER_TIMEOUT_MS);
    while (!done() && socket.connected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    if (done() || wait !== undefined) return;
    if (socket.connected) this.tally.lost++;
    else this.tally.unanswered++;
  }

  private count(code: string): void {
    this.tally.refused.set(code, (this.tally.refused.get(code) ?? 0) + 1);
  }
}
