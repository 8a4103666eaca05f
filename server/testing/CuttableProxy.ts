import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of a hub that a test can cut at a chosen moment, the way a volunteer's Wi-Fi
 * drops: real sockets on both sides, no mocks. New connections are always accepted.
 */
export class CuttableProxy {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; hub: Socket }>();
  private plan: { afterClientBytes: number; deliver: boolean; cut: () => void } | null = null;

  private constructor(
    server: Server,
    readonly url: string,
  ) {
    this.server = server;
  }

  static async start(hubPort: number): Promise<CuttableProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new CuttableProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('connection', (client) => proxy.accept(client, hubPort));
    return proxy;
  }

  /**
   * The next time a connection carries `bytes` more from the client, cut it. With `deliver` those
   * bytes reach the hub first (it acts on the message) and nothing the hub answers reaches the client
   * (a lost ack); without, the message is lost on the way. Resolves when the cut has happened.
   */
  cutAfterClientSends(bytes: number, deliver: boolean): Promise<void> {
    return new Promise((cut) => (this.plan = { afterClientBytes: bytes, deliver, cut }));
  }

  async close(): Promise<void> {
    for (const { client, hub } of this.pairs) {
      client.destroy();
      hub.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, hubPort: number): void {
    const hub = connect(hubPort, '127.0.0.1');
    const pair = { client, hub };
    this.pairs.add(pair);
    let counted = 0;
    let severing = false;
    client.on('data', (chunk) => {
      if (severing) return;
      const plan = this.plan;
      if (plan === null) {
        hub.write(chunk);
        return;
      }
      counted += chunk.length;
      if (plan.deliver) hub.write(chunk);
      if (counted < plan.afterClientBytes) return;
      severing = true;
      this.plan = null;
      // Give the hub a moment to act on what it got, then cut both sides before any reply is passed on.
      setTimeout(() => {
        client.destroy();
        hub.destroy();
        plan.cut();
      }, 200);
    });
    hub.on('data', (chunk) => {
      if (!severing && this.plan === null) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      hub.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', end);
    hub.on('close', end);
    client.on('error', end);
    hub.on('error', end);
  }
}
