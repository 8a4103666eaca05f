import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A network link as a volunteer has one: a round-trip time and a bandwidth each way. Up is client ->
 * hub (what a volunteer uploads: pushes), down is hub -> client (pulls, examples, the page).
 */
export interface LinkProfile {
  readonly name: string;
  /** Round-trip time, ms; each direction adds half of it as one-way delay. */
  readonly rttMs: number;
  /** Client -> hub, bits per second. */
  readonly upBitsPerSec: number;
  /** Hub -> client, bits per second. */
  readonly downBitsPerSec: number;
}

const MBIT = 1_000_000;

/** A home connection (issue 13): 60 ms round trip, 10 Mbit/s up, 50 Mbit/s down. */
export const HOME_LINK: LinkProfile = {
  name: 'home',
  rttMs: 60,
  upBitsPerSec: 10 * MBIT,
  downBitsPerSec: 50 * MBIT,
};

/** A mobile connection (issue 13): 150 ms round trip, 2 Mbit/s up, 10 Mbit/s down. */
export const MOBILE_LINK: LinkProfile = {
  name: 'mobile',
  rttMs: 150,
  upBitsPerSec: 2 * MBIT,
  downBitsPerSec: 10 * MBIT,
};

export const LINK_PROFILES: Readonly<Record<string, LinkProfile>> = { home: HOME_LINK, mobile: MOBILE_LINK };

/** When a chunk of bytes is on the far side of one direction of a link, ms on the link's clock. */
export interface Departure {
  /** The link has finished putting the chunk's last byte on the wire; the next chunk starts here. */
  readonly sentMs: number;
  /** The chunk arrives at the far end: `sentMs` plus the one-way delay. */
  readonly deliverMs: number;
}

/**
 * One direction of a link, as a pure function: a chunk of `bytes` that reaches the link at
 * `arrivalMs`, while the link is busy until `busyUntilMs`, starts when both the chunk and the link are
 * there (and not before `notBeforeMs`), takes bytes x 8 / bandwidth to serialise, and arrives a
 * one-way delay later. Chunks scheduled in arrival order leave in that order.
 */
export function departure(
  busyUntilMs: number,
  arrivalMs: number,
  bytes: number,
  bitsPerSec: number,
  delayMs: number,
  notBeforeMs = arrivalMs,
): Departure {
  const start = Math.max(busyUntilMs, arrivalMs, notBeforeMs);
  const sentMs = start + (bytes * 8 * 1000) / bitsPerSec;
  return { sentMs, deliverMs: sentMs + delayMs };
}

/** One direction of a link with its clock: every connection of a relay shares it, in arrival order. */
export class LinkDirection {
  private busyUntilMs = -Infinity;

  constructor(
    readonly bitsPerSec: number,
    readonly delayMs: number,
  ) {}

  /** Schedules a chunk that reached the link at `arrivalMs` (see `departure`). */
  schedule(arrivalMs: number, bytes: number, notBeforeMs = arrivalMs): Departure {
    const d = departure(this.busyUntilMs, arrivalMs, bytes, this.bitsPerSec, this.delayMs, notBeforeMs);
    this.busyUntilMs = d.sentMs;
    return d;
  }
}

/** Bytes each way: up is client -> hub, down is hub -> client. */
export interface Traffic {
  readonly up: number;
  readonly down: number;
}

/**
 * What crossed a relay, split by the kind of connection it crossed on: `websocket` is every
 * connection that opened with a WebSocket upgrade (socket.io's: hello, pulls, pushes, leases),
 * `http` every other one (the page, its assets, the examples route, /api/status).
 */
export interface RelayTraffic extends Traffic {
  readonly websocket: Traffic;
  readonly http: Traffic;
}

/** a + b, each way and by kind. */
export function addTraffic(a: RelayTraffic, b: RelayTraffic): RelayTraffic {
  const add = (x: Traffic, y: Traffic): Traffic => ({ up: x.up + y.up, down: x.down + y.down });
  return { ...add(a, b), websocket: add(a.websocket, b.websocket), http: add(a.http, b.http) };
}

/** a - b (what crossed between two readings), each way and by kind. */
export function subtractTraffic(a: RelayTraffic, b: RelayTraffic): RelayTraffic {
  const sub = (x: Traffic, y: Traffic): Traffic => ({ up: x.up - y.up, down: x.down - y.down });
  return { ...sub(a, b), websocket: sub(a.websocket, b.websocket), http: sub(a.http, b.http) };
}

/** How late the relay wrote chunks against the link's schedule (its event loop was busy), ms. */
export interface RelayLateness {
  readonly chunks: number;
  readonly meanMs: number;
  readonly maxMs: number;
}

type Kind = 'websocket' | 'http';

/** Enough of a request's head to see whether it asks for a WebSocket upgrade. */
const MAX_HEAD_BYTES = 16_384;
const UPGRADE = /\r\nupgrade:\s*websocket\s*\r\n/i;

/** Per direction, bytes the relay holds before it stops reading the sender (TCP's window, roughly). */
const HIGH_WATER_BYTES = 1 << 20;

/** One client connection and its upstream to the hub. */
class Pair {
  kind: Kind | null = null;
  /** Bytes seen before the connection's kind was known. */
  pendingUp = 0;
  pendingDown = 0;
  private head = '';

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    /** The client may send its first byte one round trip after it connected (the TCP handshake). */
    readonly openAfterMs: number,
  ) {}

  /** Reads the client's first bytes until the request head is complete; returns the kind once known. */
  classify(chunk: Buffer): Kind | null {
    if (this.kind !== null) return this.kind;
    this.head += chunk.toString('latin1', 0, Math.min(chunk.length, MAX_HEAD_BYTES));
    const end = this.head.indexOf('\r\n\r\n');
    if (end >= 0 || this.head.length >= MAX_HEAD_BYTES) {
      const head = end >= 0 ? this.head.slice(0, end + 2) : this.head;
      this.kind = UPGRADE.test(head) ? 'websocket' : 'http';
      this.head = '';
    }
    return this.kind;
  }
}

/** A chunk on its way across one direction, or (chunk null) the sender's end of stream. */
interface InFlight {
  readonly deliverMs: number;
  readonly to: Socket;
  readonly from: Socket;
  readonly chunk: Buffer | null;
}

/** One direction's queue: chunks in schedule order (deliverMs never decreases), one timer. */
class Lane {
  private readonly queue: InFlight[] = [];
  private head = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly pausedSenders = new Set<Socket>();
  lateChunks = 0;
  lateTotalMs = 0;
  lateMaxMs = 0;

  constructor(
    readonly direction: LinkDirection,
    private readonly now: () => number,
  ) {}

  send(from: Socket, to: Socket, chunk: Buffer | null, notBeforeMs: number): void {
    const { deliverMs } = this.direction.schedule(this.now(), chunk?.length ?? 0, notBeforeMs);
    this.queue.push({ deliverMs, to, from, chunk });
    if (chunk !== null) {
      this.queuedBytes += chunk.length;
      if (this.queuedBytes > HIGH_WATER_BYTES && !this.pausedSenders.has(from)) {
        from.pause();
        this.pausedSenders.add(from);
      }
    }
    if (this.timer === null) this.arm();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.head = 0;
  }

  private arm(): void {
    const next = this.queue[this.head];
    if (next === undefined) {
      this.timer = null;
      return;
    }
    this.timer = setTimeout(() => this.flush(), Math.max(0, next.deliverMs - this.now()));
  }

  private flush(): void {
    const now = this.now();
    while (this.head < this.queue.length && this.queue[this.head].deliverMs <= now) {
      const item = this.queue[this.head++];
      const late = now - item.deliverMs;
      this.lateChunks++;
      this.lateTotalMs += late;
      this.lateMaxMs = Math.max(this.lateMaxMs, late);
      if (item.chunk !== null) this.queuedBytes -= item.chunk.length;
      if (item.to.destroyed || item.to.writableEnded) continue;
      if (item.chunk === null) item.to.end();
      else item.to.write(item.chunk);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.queuedBytes <= HIGH_WATER_BYTES / 2 && this.pausedSenders.size > 0) {
      for (const sender of this.pausedSenders) sender.resume();
      this.pausedSenders.clear();
    }
    this.arm();
  }
}

/**
 * A TCP relay in front of a hub, in user space (the kernel here has no netem): 127.0.0.1:<new port>
 * forwards to the hub's port, and counts every byte each way. With a `LinkProfile` it also behaves
 * like that link, deterministically: each direction serialises bytes at its bandwidth on a virtual
 * clock (a chunk leaves when the link would have finished sending it, `departure`), adds half the
 * round trip as one-way delay, keeps order, and a new connection's first byte waits one round trip
 * (the TCP handshake). No randomness, no loss.
 *
 * One relay is one volunteer's access link: every connection through it (the page, its assets, the
 * examples route, the socket.io websocket) shares the same two directions, as they share one home
 * connection, so a unit of examples downloading delays a pull behind it. One link per connection
 * would let a volunteer's page load and websocket each have a whole link to themselves, which no home
 * router does. The hub's own side (loopback here) is not a bottleneck: a hub sits in a data centre.
 * Not modelled: TCP/IP header bytes, slow start, TLS's extra round trip, loss.
 *
 * Without a profile it is a plain byte counter (no delay), as figure 6 uses it.
 */
export class LinkRelay {
  private readonly pairs = new Set<Pair>();
  private readonly up: Lane | null;
  private readonly down: Lane | null;
  private readonly counts = {
    websocket: { up: 0, down: 0 },
    http: { up: 0, down: 0 },
    pending: { up: 0, down: 0 },
  };

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly link: LinkProfile | null,
    private readonly target: { host: string; port: number },
    private readonly now: () => number,
  ) {
    this.up = link ? new Lane(new LinkDirection(link.upBitsPerSec, link.rttMs / 2), now) : null;
    this.down = link ? new Lane(new LinkDirection(link.downBitsPerSec, link.rttMs / 2), now) : null;
    server.on('connection', (client) => this.accept(client));
  }

  /** Relays 127.0.0.1:<new port> to `targetUrl` (http://host:port), over `link` when given. */
  static start(targetUrl: string, link: LinkProfile | null = null): Promise<LinkRelay> {
    const target = new URL(targetUrl);
    // Half-open: a FIN from either side travels across the link behind the data sent before it.
    const server = createServer({ allowHalfOpen: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        const { port } = server.address() as AddressInfo;
        resolve(
          new LinkRelay(
            server,
            `http://127.0.0.1:${port}`,
            link,
            { host: target.hostname, port: Number(target.port) },
            () => performance.now(),
          ),
        );
      });
    });
  }

  /** Client connections open through the relay now. */
  get openConnections(): number {
    return this.pairs.size;
  }

  /** Every byte that crossed so far, each way and by kind of connection. */
  traffic(): RelayTraffic {
    const { websocket, http, pending } = this.counts;
    const sum = (key: 'up' | 'down') => websocket[key] + http[key] + pending[key];
    return {
      up: sum('up'),
      down: sum('down'),
      websocket: { ...websocket },
      // A connection closed before its request head was complete counts as HTTP.
      http: { up: http.up + pending.up, down: http.down + pending.down },
    };
  }

  /** How far behind the link's schedule chunks were written (both directions); zeros without a link. */
  lateness(): RelayLateness {
    const lanes = [this.up, this.down].filter((l): l is Lane => l !== null);
    const chunks = lanes.reduce((n, l) => n + l.lateChunks, 0);
    const total = lanes.reduce((n, l) => n + l.lateTotalMs, 0);
    return {
      chunks,
      meanMs: chunks > 0 ? total / chunks : 0,
      maxMs: lanes.reduce((m, l) => Math.max(m, l.lateMaxMs), 0),
    };
  }

  /** Ends every connection at once (nothing in flight is delivered) and stops listening. */
  close(): Promise<void> {
    this.up?.close();
    this.down?.close();
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = connect({ port: this.target.port, host: this.target.host, allowHalfOpen: true });
    const rtt = this.link?.rttMs ?? 0;
    const pair = new Pair(client, upstream, this.now() + rtt);
    this.pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    // Either side failing ends the pair; a clean close of both ends it too.
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', () => (upstream.destroyed || upstream.writableEnded ? end() : undefined));
    upstream.on('close', () => (client.destroyed || client.writableEnded ? end() : undefined));
    client.setNoDelay(true);
    upstream.setNoDelay(true);

    client.on('data', (chunk: Buffer) => {
      this.count(pair, 'up', chunk);
      if (this.up === null) return;
      this.up.send(client, upstream, chunk, pair.openAfterMs);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.count(pair, 'down', chunk);
      if (this.down === null) return;
      this.down.send(upstream, client, chunk, pair.openAfterMs);
    });
    if (this.up === null || this.down === null) {
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    // A half-close travels behind the data sent before it.
    client.on('end', () => this.up?.send(client, upstream, null, pair.openAfterMs));
    upstream.on('end', () => this.down?.send(upstream, client, null, pair.openAfterMs));
  }

  private count(pair: Pair, way: 'up' | 'down', chunk: Buffer): void {
    const kind = way === 'up' ? pair.classify(chunk) : pair.kind;
    if (kind === null) {
      if (way === 'up') pair.pendingUp += chunk.length;
      else pair.pendingDown += chunk.length;
      this.counts.pending[way] += chunk.length;
      return;
    }
    if (pair.pendingUp > 0 || pair.pendingDown > 0) {
      this.counts.pending.up -= pair.pendingUp;
      this.counts.pending.down -= pair.pendingDown;
      this.counts[kind].up += pair.pendingUp;
      this.counts[kind].down += pair.pendingDown;
      pair.pendingUp = 0;
      pair.pendingDown = 0;
    }
    this.counts[kind][way] += chunk.length;
  }
}
