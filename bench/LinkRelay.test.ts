import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { departure, HOME_LINK, LinkDirection, LinkRelay, type LinkProfile } from './LinkRelay.js';

/** Fast enough that a test moves 300 KB in well under a second, slow enough to queue. */
const TEST_LINK: LinkProfile = { name: 'test', rttMs: 40, upBitsPerSec: 100e6, downBitsPerSec: 50e6 };

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A TCP server that echoes every byte back and ends when its client ends. */
async function echoServer(): Promise<{ url: string; server: Server; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      socket.write(chunk);
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, received };
}

async function relayTo(url: string, link: LinkProfile | null): Promise<LinkRelay> {
  const relay = await LinkRelay.start(url, link);
  closers.push(() => relay.close());
  return relay;
}

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `chunks`, half-closes, and resolves with everything that came back once the far end ended. */
async function exchange(socket: Socket, chunks: readonly Buffer[]): Promise<Buffer> {
  const back: Buffer[] = [];
  const ended = new Promise<void>((resolve) => socket.on('end', resolve));
  socket.on('data', (chunk: Buffer) => back.push(chunk));
  for (const chunk of chunks) socket.write(chunk);
  socket.end();
  await ended;
  return Buffer.concat(back);
}

describe('departure (one direction of a link, pure)', () => {
  it('serialises at the bandwidth and adds the one-way delay', () => {
    // 1,250 B at 10 Mbit/s: 1 ms on the wire; 30 ms one way.
    expect(departure(-Infinity, 0, 1_250, 10e6, 30)).toEqual({ sentMs: 1, deliverMs: 31 });
    // The link is busy until 5: a chunk that arrived at 2 starts at 5.
    expect(departure(5, 2, 625, 10e6, 30)).toEqual({ sentMs: 5.5, deliverMs: 35.5 });
    // An idle link: the chunk starts when it arrives.
    expect(departure(5, 8, 625, 10e6, 30)).toEqual({ sentMs: 8.5, deliverMs: 38.5 });
    // Not before the handshake is over.
    expect(departure(-Infinity, 0, 625, 10e6, 30, 60)).toEqual({ sentMs: 60.5, deliverMs: 90.5 });
    // Zero bytes (an end of stream) takes no wire time.
    expect(departure(3, 1, 0, 10e6, 30)).toEqual({ sentMs: 3, deliverMs: 33 });
  });

  it('keeps a clock: back-to-back chunks queue behind each other, in order', () => {
    const up = new LinkDirection(HOME_LINK.upBitsPerSec, HOME_LINK.rttMs / 2);
    // A 23,976-byte cnn gradient at 10 Mbit/s: 19.1808 ms; then a 16-byte header arriving meanwhile.
    const schedule = [
      up.schedule(0, 23_976),
      up.schedule(1, 16),
      up.schedule(100, 1_250),
      up.schedule(100, 2_500, 130),
    ];
    expect(schedule.map((d) => d.sentMs)).toEqual([
      (23_976 * 8) / 10_000,
      (23_976 * 8 + 16 * 8) / 10_000,
      101,
      132,
    ]);
    expect(schedule.map((d) => d.deliverMs)).toEqual(schedule.map((d) => d.sentMs + 30));
    for (let i = 1; i < schedule.length; i++) {
      expect(schedule[i].deliverMs).toBeGreaterThanOrEqual(schedule[i - 1].deliverMs);
    }
  });
});

describe('LinkRelay', () => {
  it('delivers every byte intact and in order both ways, and counts them', async () => {
    const echo = await echoServer();
    const relay = await relayTo(echo.url, TEST_LINK);
    const chunks = Array.from({ length: 30 }, (_, i) => randomBytes(1_000 + i * 331));
    const sent = Buffer.concat(chunks);
    const back = await exchange(await open(relay.url), chunks);
    expect(Buffer.concat(echo.received).equals(sent)).toBe(true);
    expect(back.equals(sent)).toBe(true);
    const traffic = relay.traffic();
    expect(traffic.up).toBe(sent.length);
    expect(traffic.down).toBe(sent.length);
    expect(traffic.http).toEqual({ up: sent.length, down: sent.length });
    expect(traffic.websocket).toEqual({ up: 0, down: 0 });
  });

  it('never delivers before the schedule: a reply takes the handshake and both one-way delays', async () => {
    const echo = await echoServer();
    const relay = await relayTo(echo.url, TEST_LINK);
    const socket = await open(relay.url);
    const started = performance.now();
    const back = await exchange(socket, [Buffer.from('ping')]);
    // Handshake (1 RTT) + up (RTT/2) + down (RTT/2); timers may fire late, never early (1 ms rounding).
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * TEST_LINK.rttMs - 1);
    expect(back.toString()).toBe('ping');
    expect(relay.lateness().chunks).toBeGreaterThan(0);
  });

  it('counts a connection that opens with a WebSocket upgrade as websocket, even if its head is split', async () => {
    const echo = await echoServer();
    const relay = await relayTo(echo.url, TEST_LINK);
    const head = 'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n';
    const chunks = [Buffer.from(head), Buffer.from('Connection: Upgrade\r\n\r\n'), randomBytes(5_000)];
    const total = chunks.reduce((n, c) => n + c.length, 0);
    await exchange(await open(relay.url), chunks);
    const httpChunks = [Buffer.from('GET /worker HTTP/1.1\r\nHost: x\r\n\r\n')];
    await exchange(await open(relay.url), httpChunks);
    const traffic = relay.traffic();
    expect(traffic.websocket).toEqual({ up: total, down: total });
    expect(traffic.http).toEqual({ up: httpChunks[0].length, down: httpChunks[0].length });
  });

  it('without a link it is a plain byte counter', async () => {
    const echo = await echoServer();
    const relay = await relayTo(echo.url, null);
    const chunks = [randomBytes(70_000), randomBytes(3)];
    const back = await exchange(await open(relay.url), chunks);
    expect(back.equals(Buffer.concat(chunks))).toBe(true);
    expect(relay.traffic()).toMatchObject({ up: 70_003, down: 70_003 });
    expect(relay.lateness()).toEqual({ chunks: 0, meanMs: 0, maxMs: 0 });
  });

  it('closes cleanly: a half-close crosses the link, connections end, and close() stops listening', async () => {
    const echo = await echoServer();
    const relay = await LinkRelay.start(echo.url, TEST_LINK);
    const socket = await open(relay.url);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await exchange(socket, [randomBytes(2_000)]);
    await closed;
    await expect.poll(() => relay.openConnections).toBe(0);

    // A connection still open (and bytes still in flight) when the relay closes is ended with it.
    const open2 = await open(relay.url);
    const closed2 = new Promise<void>((resolve) => open2.on('close', () => resolve()));
    open2.on('error', () => undefined);
    open2.write(randomBytes(500_000));
    await expect.poll(() => relay.openConnections).toBe(1);
    await relay.close();
    await closed2;
    expect(relay.openConnections).toBe(0);
    await expect(open(relay.url)).rejects.toThrow(/ECONNREFUSED/);
  });
});
