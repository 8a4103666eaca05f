import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ShardActor, type ShardMessage } from '../actors/ShardActor.js';
import { LocalShardRef, type ShardRef } from '../actors/ShardRef.js';
import { freshId } from '../actors/testing/shardRounds.js';
import { createUpdateRule } from '../optimizers/updateRules.js';
import { withSeededMathRandom } from '../testing/seededInit.js';
import { startTestHub, testGradient } from '../testing/testHub.js';
import type { RunningHub } from '../startHub.js';
import { NatsPayloadTooLargeError, ShardUnavailableError } from './clusterErrors.js';
import { NatsShardHost } from './NatsShardHost.js';
import { NatsShardRef } from './NatsShardRef.js';
import { startNatsServer, type NatsServerOptions, type RunningNatsServer } from './natsServer.js';
import { runShardProcess, type RunningShard, type ShardProcessOptions } from './shardProcess.js';
import { shardCheckpointDir } from './shardCheckpoint.js';
import { nodeArgsForTest } from '../testing/testProcesses.js';

/**
 * Shards over a real nats-server (Debian's package; the test command runs
 * scripts/find-nats-server.mjs first, which installs it when missing): what a NatsShardRef gets must
 * be exactly what a LocalShardRef over an identical actor gets.
 */

/** Floats of the biggest `deep-cnn` shard (3 shards of its 3.27M parameters): ~4.4 MB. */
const BIG_SHARD_FLOATS = 1_100_000;
const PREFIX = 'test';

const opened = {
  nats: [] as RunningNatsServer[],
  connections: [] as NatsConnection[],
  hosts: [] as NatsShardHost[],
  shards: [] as RunningShard[],
  hubs: [] as RunningHub[],
  dirs: [] as string[],
  children: [] as ChildProcess[],
};

afterEach(async () => {
  for (const child of opened.children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  for (const shard of opened.shards.splice(0)) await shard.close();
  for (const host of opened.hosts.splice(0)) await host.close();
  for (const connection of opened.connections.splice(0)) await connection.close();
  for (const hub of opened.hubs.splice(0)) await hub.close();
  for (const server of opened.nats.splice(0)) await server.close();
  for (const dir of opened.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function natsServer(options?: NatsServerOptions): Promise<RunningNatsServer> {
  const server = await startNatsServer(options);
  opened.nats.push(server);
  return server;
}

async function natsConnection(server: RunningNatsServer): Promise<NatsConnection> {
  const connection = await connect({ servers: server.url });
  opened.connections.push(connection);
  return connection;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shard-ckpt-'));
  opened.dirs.push(dir);
  return dir;
}

function actor(index: number, offset: number, length: number): ShardActor {
  return new ShardActor({
    index,
    offset,
    initialWeights: testGradient(length, 1000 + index),
    rule: createUpdateRule('adam'),
    learningRate: 0.01,
  });
}

/** The same shard twice: one hosted on NATS and asked over it, one asked in process. */
async function twins(
  server: RunningNatsServer,
  index: number,
  offset: number,
  length: number,
): Promise<{ remote: NatsShardRef; local: LocalShardRef }> {
  const host = new NatsShardHost({
    connection: await natsConnection(server),
    actor: actor(index, offset, length),
    subjectPrefix: PREFIX,
  });
  opened.hosts.push(host);
  await host.ready();
  return {
    remote: new NatsShardRef({ connection: await natsConnection(server), index, subjectPrefix: PREFIX }),
    local: new LocalShardRef(actor(index, offset, length)),
  };
}

/** A reply with its Float32Arrays as bit patterns, so that `toEqual` is bit-exact. */
function bits(value: unknown): unknown {
  if (value instanceof Float32Array)
    return Array.from(new Uint32Array(value.buffer, value.byteOffset, value.length));
  if (Array.isArray(value)) return value.map(bits);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bits(v)]));
  }
  return value;
}

async function askBoth(refs: { remote: ShardRef; local: ShardRef }, message: ShardMessage): Promise<unknown> {
  const [remote, local] = await Promise.all([refs.remote.ask(message), refs.local.ask(message)]);
  expect(bits(remote)).toEqual(bits(local));
  return remote;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

describe('shards over NATS', () => {
  it('answers every message type exactly as a LocalShardRef over an identical actor', async () => {
    const server = await natsServer();
    const lengths = [3000, 2999];
    const shards = [await twins(server, 0, 0, lengths[0]), await twins(server, 1, lengths[0], lengths[1])];
    for (const [i, refs] of shards.entries()) {
      const offset = i === 0 ? 0 : lengths[0];
      const length = lengths[i];
      await askBoth(refs, { type: 'pull' });
      await askBoth(refs, { type: 'status' });
      for (let step = 0; step < 3; step++) {
        await askBoth(refs, {
          type: 'apply',
          pushId: freshId(),
          pieces: [
            { offset, values: testGradient(100, step + 1) },
            { offset: offset + 500, values: testGradient(length - 500, step + 7) },
          ],
          lrScale: 0.5,
        });
      }
      await askBoth(refs, { type: 'setLearningRate', learningRate: 0.002 });
      await askBoth(refs, {
        type: 'accumulate',
        round: 1,
        contribution: 'a',
        pieces: [{ offset, values: testGradient(length, 11) }],
        weight: 64,
      });
      await askBoth(refs, {
        type: 'accumulate',
        round: 1,
        contribution: 'b',
        pieces: [{ offset, values: testGradient(length, 12) }],
        weight: 32,
      });
      await askBoth(refs, { type: 'prepareRound', round: 1, contributions: ['a', 'b'] });
      await askBoth(refs, { type: 'applyRound', round: 1 });
      await askBoth(refs, { type: 'dropRound', round: 1 });
      await askBoth(refs, { type: 'pull' });
      await askBoth(refs, { type: 'checkpoint' });
      const status = (await askBoth(refs, { type: 'status' })) as { version: number; checksum: string };
      expect(status.version).toBe(4);
      await askBoth(refs, { type: 'reset', weights: testGradient(length, 99) });
      await askBoth(refs, { type: 'status' });
    }
  });

  it('handles requests one at a time in the order sent', async () => {
    const server = await natsServer();
    const refs = await twins(server, 0, 0, 5000);
    const messages: ShardMessage[] = Array.from({ length: 40 }, (_, i) => ({
      type: 'apply',
      pushId: freshId(),
      pieces: [{ offset: 0, values: testGradient(5000, i + 1) }],
      lrScale: 1,
    }));
    // All sent before any answer arrives.
    const remote = await Promise.all(messages.map((m) => refs.remote.ask(m)));
    const local = await Promise.all(messages.map((m) => refs.local.ask(m)));
    expect(remote).toEqual(local);
    expect(remote.map((r) => (r as { version: number }).version)).toEqual(messages.map((_, i) => i + 1));
    await askBoth(refs, { type: 'status' });
  });

  it('carries a 4.4 MB apply and pull (the biggest deep-cnn shard)', async () => {
    const server = await natsServer();
    const refs = await twins(server, 0, 0, BIG_SHARD_FLOATS);
    const applyMs: number[] = [];
    const pullMs: number[] = [];
    const localMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const message: ShardMessage = {
        type: 'apply',
        pushId: freshId(),
        pieces: [{ offset: 0, values: testGradient(BIG_SHARD_FLOATS, i + 1) }],
        lrScale: 1,
      };
      let started = performance.now();
      const remote = await refs.remote.ask(message);
      applyMs.push(performance.now() - started);
      started = performance.now();
      const local = await refs.local.ask(message);
      localMs.push(performance.now() - started);
      expect(remote).toEqual(local);
      started = performance.now();
      await refs.remote.ask({ type: 'pull' });
      pullMs.push(performance.now() - started);
    }
    await askBoth(refs, { type: 'pull' });
    const status = (await askBoth(refs, { type: 'status' })) as { version: number };
    expect(status.version).toBe(5);
    console.log(
      `NATS, ${((BIG_SHARD_FLOATS * 4) / 1e6).toFixed(1)} MB shard: apply round trip median ` +
        `${median(applyMs).toFixed(1)} ms (the same apply in process: ${median(localMs).toFixed(1)} ms), ` +
        `pull ${median(pullMs).toFixed(1)} ms (median of 5, adam)`,
    );
  });

  it('names the shard and subject when no shard answers', async () => {
    const server = await natsServer();
    const ref = new NatsShardRef({
      connection: await natsConnection(server),
      index: 2,
      subjectPrefix: PREFIX,
    });
    const asked = ref.ask({ type: 'status' });
    await expect(asked).rejects.toBeInstanceOf(ShardUnavailableError);
    await expect(asked).rejects.toThrow(
      /shard 2 is not running: nothing answers on NATS subject "test\.shard\.2"/,
    );
  });

  it('says which max_payload a message or a reply needs when the server refuses it', async () => {
    // nats-server's default limit (1 MB), as an unconfigured server has it.
    const server = await natsServer({ maxPayloadBytes: 1024 * 1024 });
    const refs = await twins(server, 0, 0, BIG_SHARD_FLOATS);
    const apply = refs.remote.ask({
      type: 'apply',
      pushId: freshId(),
      pieces: [{ offset: 0, values: new Float32Array(BIG_SHARD_FLOATS) }],
      lrScale: 1,
    });
    await expect(apply).rejects.toBeInstanceOf(NatsPayloadTooLargeError);
    await expect(apply).rejects.toThrow(
      /"apply" message for shard 0 on NATS subject "test\.shard\.0" is 4400\d\d\d bytes, above the NATS server's max_payload of 1048576 bytes\. Raise max_payload in the nats-server config to at least 4400\d\d\d \(e\.g\. "max_payload: 8MB"/,
    );
    // The reply is the big one: the shard answers with the error instead.
    await expect(refs.remote.ask({ type: 'pull' })).rejects.toThrow(
      /the reply to "pull" for shard 0 .* is 4400\d\d\d bytes, above the NATS server's max_payload of 1048576/,
    );
    // Small messages still go through, and the refused apply changed nothing.
    await askBoth(refs, { type: 'status' });
  });

  it("rethrows the actor's error with its class and message, and the shard lives on", async () => {
    const server = await natsServer();
    const refs = await twins(server, 1, 100, 50);
    const outside: ShardMessage = {
      type: 'apply',
      pushId: freshId(),
      pieces: [{ offset: 0, values: new Float32Array(3) }],
      lrScale: 1,
    };
    const remote = refs.remote.ask(outside);
    await expect(remote).rejects.toBeInstanceOf(RangeError);
    await expect(remote).rejects.toThrow('piece [0, +3) is outside shard 1 [100, +50)');
    await expect(refs.local.ask(outside)).rejects.toThrow('piece [0, +3) is outside shard 1 [100, +50)');
    await askBoth(refs, { type: 'status' });
  });
});

describe('runShardProcess', () => {
  async function shardProcess(
    overrides: Partial<ShardProcessOptions> & { natsUrl: string; checkpointDir: string },
  ) {
    const shard = await runShardProcess({
      shardIndex: 1,
      shards: 2,
      model: 'cnn',
      optimizer: 'adam',
      learningRate: 0.001,
      seed: 7,
      checkpointEveryMs: 60_000,
      subjectPrefix: PREFIX,
      ...overrides,
    });
    opened.shards.push(shard);
    return shard;
  }

  it('starts from the same weights as createHub with the same seed', async () => {
    const SEED = 7;
    const hub = await withSeededMathRandom(SEED, () => startTestHub({ model: 'cnn', shards: 2 }));
    opened.hubs.push(hub);
    const server = await natsServer();
    const connection = await natsConnection(server);
    const dir = await tempDir();
    for (const index of [0, 1]) {
      const shard = await shardProcess({
        natsUrl: server.url,
        checkpointDir: dir,
        shardIndex: index,
        seed: SEED,
      });
      expect(shard.range).toEqual(hub.hub.shardRanges[index]);
      const ref = new NatsShardRef({ connection, index, subjectPrefix: PREFIX });
      expect(bits(await ref.ask({ type: 'pull' }))).toEqual(
        bits(await hub.hub.shards[index].ask({ type: 'pull' })),
      );
      expect(await ref.ask({ type: 'status' })).toEqual(await hub.hub.shards[index].ask({ type: 'status' }));
    }
  });

  it('comes back from its checkpoint at the same version and checksum', async () => {
    const server = await natsServer();
    const connection = await natsConnection(server);
    const dir = await tempDir();
    const first = await shardProcess({ natsUrl: server.url, checkpointDir: dir });
    expect(first.resumedFrom).toBeNull();
    const ref = new NatsShardRef({ connection, index: 1, subjectPrefix: PREFIX });
    const { offset, length } = first.range;
    for (let i = 0; i < 3; i++) {
      await ref.ask({
        type: 'apply',
        pushId: freshId(),
        pieces: [{ offset, values: testGradient(length, i + 1) }],
        lrScale: 1,
      });
    }
    await ref.ask({ type: 'setLearningRate', learningRate: 0.005 });
    const before = await ref.ask({ type: 'status' });
    expect(before.version).toBe(3);
    const saved = await ref.ask({ type: 'checkpoint' });
    await first.close();
    opened.shards.splice(opened.shards.indexOf(first), 1);
    await expect(ref.ask({ type: 'status' })).rejects.toBeInstanceOf(ShardUnavailableError);

    const second = await shardProcess({ natsUrl: server.url, checkpointDir: dir, learningRate: 0.1 });
    expect(second.resumedFrom).toMatch(/shard-1\/checkpoint-.*-step3\.ckpt$/);
    expect(await ref.ask({ type: 'status' })).toEqual(before);
    // The operator's learning rate survived the restart (not the 0.1 it was started with): the next
    // update is what a twin restored from the same state at 0.005 makes of it.
    const twin = new LocalShardRef(
      new ShardActor({
        index: 1,
        offset,
        initialWeights: saved.weights,
        rule: createUpdateRule('adam'),
        learningRate: 0.005,
        restore: saved,
      }),
    );
    await askBoth(
      { remote: ref, local: twin },
      { type: 'apply', pushId: freshId(), pieces: [{ offset, values: testGradient(length, 9) }], lrScale: 1 },
    );
    await askBoth({ remote: ref, local: twin }, { type: 'status' });
  });

  it('writes checkpoints periodically, so a shard that never closed can be brought back', async () => {
    const server = await natsServer();
    const connection = await natsConnection(server);
    const dir = await tempDir();
    const running = await shardProcess({ natsUrl: server.url, checkpointDir: dir, checkpointEveryMs: 100 });
    const ref = new NatsShardRef({ connection, index: 1, subjectPrefix: PREFIX });
    const { offset, length } = running.range;
    await ref.ask({
      type: 'apply',
      pushId: freshId(),
      pieces: [{ offset, values: testGradient(length, 5) }],
      lrScale: 1,
    });
    await ref.ask({
      type: 'apply',
      pushId: freshId(),
      pieces: [{ offset, values: testGradient(length, 6) }],
      lrScale: 1,
    });
    const before = await ref.ask({ type: 'status' });
    const files = async (): Promise<string[]> => readdir(shardCheckpointDir(dir, 1)).catch(() => []);
    const deadline = Date.now() + 5_000;
    while (!(await files()).some((f) => f.endsWith('-step2.ckpt')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // As after a SIGKILL: another process starts from the folder while the first never wrote on close.
    const restarted = await shardProcess({
      natsUrl: server.url,
      checkpointDir: dir,
      subjectPrefix: 'restarted',
    });
    expect(restarted.resumedFrom).toMatch(/-step2\.ckpt$/);
    const again = new NatsShardRef({ connection, index: 1, subjectPrefix: 'restarted' });
    expect(await again.ask({ type: 'status' })).toEqual(before);
  });

  it('refuses to start while another process serves the same shard', async () => {
    const server = await natsServer();
    const dir = await tempDir();
    await shardProcess({ natsUrl: server.url, checkpointDir: dir });
    await expect(shardProcess({ natsUrl: server.url, checkpointDir: await tempDir() })).rejects.toThrow(
      /shard 1 is already served on NATS subject "test\.shard\.1" \(at version 0\)/,
    );
    // Another run on the same server is another prefix.
    await expect(
      shardProcess({ natsUrl: server.url, checkpointDir: dir, subjectPrefix: 'other' }),
    ).resolves.toBeDefined();
  });

  it('refuses a checkpoint of another split of the model', async () => {
    const server = await natsServer();
    const dir = await tempDir();
    const first = await shardProcess({ natsUrl: server.url, checkpointDir: dir });
    await first.checkpointNow();
    await expect(shardProcess({ natsUrl: server.url, checkpointDir: dir, shards: 3 })).rejects.toThrow(
      /was saved with 2 shards \(asked: 3\), shard 1 \[2997, \+2997\) \(asked: shard 1 \[1998, \+1998\)\)/,
    );
  });
});

describe('a shard in its own process', () => {
  /** `runShardProcess` in a child process (tsx); resolves once it serves. */
  async function spawnShard(options: ShardProcessOptions): Promise<ChildProcess> {
    // Node itself with tsx's loader, not the tsx CLI: the CLI runs the script in a grandchild that a
    // SIGKILL of the CLI would leave running.
    const child = spawn(
      process.execPath,
      [...nodeArgsForTest('server/cluster/testing/shardChild.ts'), JSON.stringify(options)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    opened.children.push(child);
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      child.once('exit', (code) =>
        reject(new Error(`shard process exited (${code}) before serving:\n${output}`)),
      );
    });
    return child;
  }

  it('killed with SIGKILL and started again, resumes from its last periodic checkpoint', async () => {
    const server = await natsServer();
    const connection = await natsConnection(server);
    const dir = await tempDir();
    const options: ShardProcessOptions = {
      natsUrl: server.url,
      shardIndex: 0,
      shards: 2,
      model: 'cnn',
      optimizer: 'adam',
      learningRate: 0.001,
      seed: 3,
      checkpointDir: dir,
      checkpointEveryMs: 100,
      subjectPrefix: PREFIX,
    };
    const first = await spawnShard(options);
    const ref = new NatsShardRef({ connection, index: 0, subjectPrefix: PREFIX });
    const { offset, length } = await ref.ask({ type: 'status' });
    for (let i = 0; i < 4; i++) {
      await ref.ask({
        type: 'apply',
        pushId: freshId(),
        pieces: [{ offset, values: testGradient(length, i + 1) }],
        lrScale: 1,
      });
    }
    const before = await ref.ask({ type: 'status' });
    const deadline = Date.now() + 10_000;
    const saved = async (): Promise<boolean> =>
      (await readdir(shardCheckpointDir(dir, 0)).catch(() => [])).some((f) => f.endsWith('-step4.ckpt'));
    while (!(await saved()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));

    first.kill('SIGKILL');
    await once(first, 'exit');
    await expect(ref.ask({ type: 'status' })).rejects.toBeInstanceOf(ShardUnavailableError);

    await spawnShard(options);
    expect(await ref.ask({ type: 'status' })).toEqual(before);
  });
});
