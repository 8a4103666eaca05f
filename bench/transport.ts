import { HubClient } from '../shared/HubClient.js';
import type { ModelName } from '../shared/models.js';
import { testGradient } from '../server/testing/testHub.js';
import { ChildServer } from './ChildServer.js';
import { startChildHub, using } from './hubs.js';
import type { Log } from './log.js';
import type { RoundTrips, TransportResult, TransportRow } from './results.js';
import type { BenchSettings } from './settings.js';
import { median, operationsPerSecond, ratio } from './stats.js';
import { WsEchoClient } from './wsEcho.js';

/**
 * Hub connections the requests rotate over (still one request in flight). The gateway admits 200
 * messages/s and a byte budget per connection (server/gateway/ConnectionLimits.ts, createHub.ts); one
 * connection doing round trips back to back passes both (measured: ~2,700 cnn pushes/s) and gets
 * RATE_LIMITED, which is a limit, not transport speed. Spread over 64 connections each stays far
 * below them (16 were not enough: a fixed 1 s window saw bursts over 200).
 */
export const HUB_CONNECTIONS = 64;

interface TransportCase {
  readonly size: string;
  readonly model: ModelName;
  readonly shards: number;
  /** The shards each request covers; undefined: every shard (the whole model). */
  readonly selection?: number[];
  readonly setup: string;
}

/**
 * The three sizes. There is no model of ~1M parameters, so the 4 MB size is one shard of deep-cnn
 * split in three (1,091,545 floats, 4.37 MB): a real partial push/pull of a sharded hub, the same
 * bytes as the raw ws arm.
 */
const CASES: readonly TransportCase[] = [
  { size: 'cnn', model: 'cnn', shards: 2, setup: 'cnn hub, 2 shards, whole model' },
  {
    size: '4 MB',
    model: 'deep-cnn',
    shards: 3,
    selection: [0],
    setup: 'deep-cnn hub, 3 shards, shard 0 only',
  },
  { size: 'deep-cnn', model: 'deep-cnn', shards: 2, setup: 'deep-cnn hub, 2 shards, whole model' },
];

/** Push+ack and pull round trips/s through the hub against a raw ws echo server, same bytes, same run. */
export async function measureTransport(settings: BenchSettings, log: Log): Promise<TransportResult> {
  const rows: TransportRow[] = [];
  await using(ChildServer.wsEcho(), async (echo) => {
    const raw = await WsEchoClient.connect(echo.url);
    try {
      for (const testCase of CASES) rows.push(await measureCase(testCase, raw, settings, log));
    } finally {
      raw.close();
    }
  });
  return { hubConnections: HUB_CONNECTIONS, rows };
}

async function measureCase(
  testCase: TransportCase,
  raw: WsEchoClient,
  settings: BenchSettings,
  log: Log,
): Promise<TransportRow> {
  const hubOptions = { model: testCase.model, shards: testCase.shards };
  return using(startChildHub(hubOptions), async (hub) => {
    const clients: HubClient[] = [];
    try {
      for (let i = 0; i < HUB_CONNECTIONS; i++) {
        clients.push(await HubClient.connect({ url: hub.url, backend: 'bench', ackTimeoutMs: 60_000 }));
      }
      const { config } = clients[0];
      const shards = testCase.selection ?? config.shards.map((s) => s.index);
      const floats = shards.reduce((sum, index) => sum + config.shards[index].length, 0);
      const bytes = floats * 4;
      const selection = testCase.selection ? { shards: testCase.selection } : {};
      const gradient = testGradient(floats, 1);
      const gradientBytes = new Uint8Array(gradient.buffer);
      const { versions } = await clients[0].pull(selection);

      let turn = 0;
      const next = () => clients[turn++ % clients.length];
      const hubPush = () => next().push({ ...selection, gradient, versions, examples: 64, loss: 1 });
      const hubPull = () => next().pull(selection);
      const rawPush = () => raw.push(gradientBytes);
      const rawPull = () => raw.pull(bytes);

      const seconds = settings.transport.secondsPerSample;
      const operations = { hubPush, rawPush, hubPull, rawPull };
      type Operation = keyof typeof operations;
      // Warm-up: JIT, socket buffers, the hub's first applies.
      for (const op of Object.values(operations)) await operationsPerSecond(op, seconds / 3);
      const samples: Record<Operation, number[]> = { hubPush: [], rawPush: [], hubPull: [], rawPull: [] };
      for (let rep = 0; rep < settings.transport.reps; rep++) {
        // Alternate which arm goes first, so a drift in the machine's load falls on both.
        const order: Operation[] =
          rep % 2 === 0
            ? ['hubPush', 'rawPush', 'hubPull', 'rawPull']
            : ['rawPush', 'hubPush', 'rawPull', 'hubPull'];
        for (const name of order) samples[name].push(await operationsPerSecond(operations[name], seconds));
      }
      const row: TransportRow = {
        size: testCase.size,
        bytes,
        hubSetup: testCase.setup,
        pushAck: roundTrips(samples.hubPush, samples.rawPush),
        pull: roundTrips(samples.hubPull, samples.rawPull),
      };
      log(
        `  ${testCase.size} (${bytes.toLocaleString('en-US')} B): push+ack ${row.pushAck.hub.toFixed(0)}/s vs raw ${row.pushAck.rawWs.toFixed(0)}/s, ` +
          `pull ${row.pull.hub.toFixed(0)}/s vs raw ${row.pull.rawWs.toFixed(0)}/s`,
      );
      return row;
    } finally {
      for (const client of clients) client.close();
    }
  });
}

function roundTrips(hubSamples: number[], rawWsSamples: number[]): RoundTrips {
  const hub = median(hubSamples);
  const rawWs = median(rawWsSamples);
  return { hub, rawWs, ratio: ratio(hub, rawWs), hubSamples, rawWsSamples };
}
