import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of a server that counts the bytes going each way: what a client really puts
 * on the wire (WebSocket frames, socket.io packets, HTTP requests), whatever the encoding.
 */
export class ByteCounter {
  /** Bytes from clients to the server. */
  up = 0;
  /** Bytes from the server to clients. */
  down = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Relays 127.0.0.1:<new port> to `targetUrl` (http://host:port). */
  static start(targetUrl: string): Promise<ByteCounter> {
    const target = new URL(targetUrl);
    let counter: ByteCounter | null = null;
    const server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      const self = counter!;
      for (const socket of [client, upstream]) {
        self.sockets.add(socket);
        socket.on('close', () => self.sockets.delete(socket));
        // Either side failing ends the pair.
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (chunk: Buffer) => (self.up += chunk.length));
      upstream.on('data', (chunk: Buffer) => (self.down += chunk.length));
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        counter = new ByteCounter(server, `http://127.0.0.1:${port}`);
        resolve(counter);
      });
    });
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
