import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * The reference the hub is compared with: a bare `ws` server (no deflate; `ws` uses bufferutil when it
 * is installed, as socket.io's engine does) that does the least a parameter server could:
 *   push: a binary message (the gradient) is answered with a 1-byte text ack;
 *   pull: a text message "pull <bytes>" is answered with that many bytes, from a buffer made once.
 */
export interface WsEchoServer {
  readonly url: string;
  close(): Promise<void>;
}

const PULL_PREFIX = 'pull ';
const MAX_PAYLOAD = 64 * 1024 * 1024;

export function startWsEcho(host = '127.0.0.1'): Promise<WsEchoServer> {
  const server = new WebSocketServer({ host, port: 0, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  const pullBuffers = new Map<number, Uint8Array>();
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        socket.send('k');
        return;
      }
      const text = String(data);
      if (!text.startsWith(PULL_PREFIX)) return;
      const bytes = Number(text.slice(PULL_PREFIX.length));
      let buffer = pullBuffers.get(bytes);
      if (buffer === undefined) {
        buffer = new Uint8Array(bytes).fill(7);
        pullBuffers.set(bytes, buffer);
      }
      socket.send(buffer, { binary: true });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `ws://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const client of server.clients) client.terminate();
            server.close(() => done());
          }),
      });
    });
  });
}

/** One connection to a WsEchoServer, one request in flight. */
export class WsEchoClient {
  private waiting: ((data: unknown) => void) | null = null;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const resolve = this.waiting;
      this.waiting = null;
      resolve?.(data);
    });
  }

  static connect(url: string): Promise<WsEchoClient> {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new WsEchoClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends `bytes` and waits for the ack. */
  push(bytes: Uint8Array): Promise<void> {
    return this.request(() => this.socket.send(bytes, { binary: true })).then(() => undefined);
  }

  /** Asks for `bytes` bytes and waits for them. */
  async pull(bytes: number): Promise<void> {
    const data = await this.request(() => this.socket.send(`${PULL_PREFIX}${bytes}`));
    const length = (data as Buffer).length;
    if (length !== bytes) throw new Error(`raw ws pull returned ${length} bytes, expected ${bytes}`);
  }

  close(): void {
    this.socket.close();
  }

  private request(send: () => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.waiting !== null) reject(new Error('one request at a time'));
      this.waiting = resolve;
      send();
    });
  }
}
