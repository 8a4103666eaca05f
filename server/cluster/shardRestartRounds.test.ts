import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { mulberry32 } from '../../shared/random.js';
import { Coordinator, type GradientPush, type PushResult } from '../actors/Coordinator.js';
import { ShardActor, type ShardStatus } from '../actors/ShardActor.js';
import { UnitPool } from '../data/UnitPool.js';
import { createUpdateRule } from '../optimizers/updateRules.js';
import { NatsShardRef } from './NatsShardRef.js';
import { startNatsServer } from './natsServer.js';
import { connectRemoteShards } from './remoteShards.js';
import { openedClusterAfterEach } from './testing/clusterFixture.js';
import { spawnOpenedShard } from './testing/openedCluster.js';
import type { ShardCli } from './testing/shardCli.js';

/**
 * A sync round across real shard processes on a real nats-server, one process SIGKILLed and started
 * again (from its own checkpoint) between the round's two pushes: the restarted shard lost the
 * first push, so the round must close on both shards or on neither, and what each shard holds must
 * be what the coordinator reports. And a shard process restarted from its checkpoint still refuses
 * to apply a push id it applied before. Expected weights come from shard actors in this process fed
 * only the rounds that should have been applied; the shards are compared by checksum (bit-exact).
 */

const SHARDS = 2;
const PREFIX = 'restart-rounds';
/** The shards' `--lr`. */
const LEARNING_RATE = 0.1;
/** Long enough that no round closes on its deadline while a shard restarts. */
const ROUND_TIMEOUT_MS = 120_000;
const EXAMPLES = 32;

const opened = openedClusterAfterEach();

function spawnShard(natsUrl: string, index: number, checkpointDir: string): Promise<ShardCli> {
  return spawnOpenedShard(opened, {
    natsUrl,
    index,
    shards: SHARDS,
    checkpointDir,
    subjectPrefix: PREFIX,
    args: ['--model', 'cnn', '--seed', '7', '--checkpoint-secs', '0.5', '--optimizer', 'sgd', '--lr', '0.1'],
  });
}

async function untilTrue(what: string, condition: () => boolean | Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A push's outcome, settled either way, so that a test can await it later. */
function outcomeOf(push: Promise<PushResult>): Promise<{ value: PushResult } | { error: unknown }> {
  return push.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

function floats(length: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => random() * 2 - 1);
}

describe('sync rounds on shard processes, one restarted mid-round', () => {
  it('the round applies on both shards or neither, the shards agree with the coordinator, the next round applies on both', async () => {
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const dir = await mkdtemp(join(tmpdir(), 'restart-rounds-'));
    opened.dirs.push(dir);
    const children = await Promise.all([0, 1].map((index) => spawnShard(nats.url, index, dir)));
    const remote = await connectRemoteShards({ natsUrl: nats.url, shards: SHARDS, subjectPrefix: PREFIX });
    opened.remote.push(remote);
    const connection = await connect({ servers: nats.url });
    opened.connections.push(connection);
    const direct = [0, 1].map((index) => new NatsShardRef({ connection, index, subjectPrefix: PREFIX }));
    const statuses = (): Promise<ShardStatus[]> =>
      Promise.all(direct.map((ref) => ref.ask({ type: 'status' })));
    const ranges = await statuses();

    // The expectation: the same shards in this process, from the weights the processes started with.
    const reference = await Promise.all(
      direct.map(async (ref, index) => {
        const { weights } = await ref.ask({ type: 'pull' });
        return new ShardActor({
          index,
          offset: ranges[index].offset,
          initialWeights: weights,
          rule: createUpdateRule('sgd'),
          learningRate: LEARNING_RATE,
        });
      }),
    );
    const initial = reference.map((actor) => Float32Array.from(actor.receive({ type: 'pull' }).weights));
    const gradient = (seed: number) => ranges.map((r, i) => floats(r.length, 100 * seed + i));
    /** The round applied to the expectation, as the coordinator applies it: all of it, once. */
    const referenceRound = (round: number, gradients: Float32Array[][]) =>
      reference.forEach((actor, index) => {
        gradients.forEach((g, k) =>
          actor.receive({
            type: 'accumulate',
            round,
            contribution: `ref-${k}`,
            pieces: [{ offset: ranges[index].offset, values: g[index] }],
            weight: EXAMPLES,
          }),
        );
        actor.receive({ type: 'prepareRound', round, contributions: gradients.map((_, k) => `ref-${k}`) });
        actor.receive({ type: 'applyRound', round });
      });
    const expected = () => reference.map((actor) => actor.receive({ type: 'status' }));

    const coordinator = new Coordinator({
      mode: 'sync',
      shards: remote.refs,
      units: new UnitPool({ totalExamples: 1000, unitSize: 100, seed: 1 }),
      roundTimeoutMs: ROUND_TIMEOUT_MS,
    });
    try {
      const [a, b] = [0, 1].map(() => coordinator.join({ backend: 'wasm' }));
      let pushes = 0;
      const pushOf = (g: Float32Array[], round: number): GradientPush => ({
        piecesByShard: new Map(g.map((values, index) => [index, [{ offset: ranges[index].offset, values }]])),
        versions: coordinator.checkpoint().shardVersions,
        round,
        examples: EXAMPLES,
        loss: 1,
        pushId: `push-${++pushes}`,
      });
      const agree = async () => {
        const now = await statuses();
        expect(now).toEqual(expected());
        expect(coordinator.checkpoint().shardVersions).toEqual(now.map((s) => s.version));
        expect(coordinator.checkpoint().globalStep).toBe(reference[0].receive({ type: 'status' }).version);
      };

      // Round 0, whole: both shards apply it.
      const round0 = [gradient(1), gradient(2)];
      const first = await Promise.all([
        coordinator.push(a, pushOf(round0[0], 0)),
        coordinator.push(b, pushOf(round0[1], 0)),
      ]);
      expect(first.map((r) => r.globalStep)).toEqual([1, 1]);
      referenceRound(0, round0);
      await agree();
      // Shard 1's checkpoint holds round 0, as its restart will.
      await untilTrue('shard 1 to checkpoint version 1', () =>
        /shard 1: checkpoint at version 1 /.test(children[1].output()),
      );

      // Round 1: the first push is accumulated on both shards...
      expect(await coordinator.roundFor(a)).toBe(1);
      const firstOfRound = outcomeOf(coordinator.push(a, pushOf(gradient(3), 1)));
      await untilTrue('the first push to be accumulated', () => coordinator.status().pushesAccepted === 3);
      // ...then shard 1's process dies and comes back from its checkpoint, without it.
      children[1].child.kill('SIGKILL');
      await once(children[1].child, 'exit');
      const restarted = await spawnShard(nats.url, 1, dir);
      expect(restarted.output()).toMatch(/shard 1: resumed from .*shard-1\/checkpoint-.*: version 1,/);
      const outcomes = await Promise.all([
        firstOfRound,
        outcomeOf(coordinator.push(b, pushOf(gradient(4), 1))),
      ]);
      // Nowhere: shard 0 held both pushes, shard 1 only the second; neither applied the round.
      for (const outcome of outcomes) {
        expect(outcome).toMatchObject({ error: { code: ErrorCode.RoundAborted } });
      }
      expect((outcomes[0] as { error: Error }).error.message).toMatch(
        /^round 1 was not applied: shard\(s\) 1 did not hold all of its pushes/,
      );
      await agree();
      expect(coordinator.status()).toMatchObject({ globalStep: 1, examplesSeen: 2 * EXAMPLES });
      expect(coordinator.status().recentRounds.map((r) => r.id)).toEqual([0]);

      // Round 2 applies on both shards, with exactly its two pushes.
      expect(await coordinator.roundFor(a)).toBe(2);
      const round2 = [gradient(5), gradient(6)];
      const third = await Promise.all([
        coordinator.push(a, pushOf(round2[0], 2)),
        coordinator.push(b, pushOf(round2[1], 2)),
      ]);
      expect(third.map((r) => r.globalStep)).toEqual([2, 2]);
      referenceRound(2, round2);
      await agree();
      expect((await statuses()).map((s) => s.version)).toEqual([2, 2]);
      // And by hand (sgd, the rate x 2 gradients x their mean): w0 - lr (g1 + g2) - lr (g5 + g6).
      for (const [index, ref] of direct.entries()) {
        const { weights } = await ref.ask({ type: 'pull' });
        const g = [...round0, ...round2].map((grad) => grad[index]);
        const byHand = initial[index].map((w, i) => w - LEARNING_RATE * g.reduce((s, x) => s + x[i], 0));
        weights.forEach((w, i) => expect(w).toBeCloseTo(byHand[i], 5));
      }
    } finally {
      coordinator.close();
    }
  }, 120_000);
});

describe('a shard process restarted from its checkpoint', () => {
  it('still answers a push id it applied before as a repeat, and applies nothing', async () => {
    const nats = await startNatsServer();
    opened.nats.push(nats);
    const dir = await mkdtemp(join(tmpdir(), 'restart-applied-'));
    opened.dirs.push(dir);
    const first = await spawnShard(nats.url, 0, dir);
    const connection = await connect({ servers: nats.url });
    opened.connections.push(connection);
    const ref = new NatsShardRef({ connection, index: 0, subjectPrefix: PREFIX });
    const { offset, length } = await ref.ask({ type: 'status' });
    const apply = (pushId: string, seed: number) =>
      ref.ask({ type: 'apply', pushId, pieces: [{ offset, values: floats(length, seed) }], lrScale: 1 });
    expect(await apply('p1', 1)).toEqual({ version: 1 });
    expect(await apply('p2', 2)).toEqual({ version: 2 });
    const before = await ref.ask({ type: 'status' });
    await untilTrue('a checkpoint at version 2', () =>
      /shard 0: checkpoint at version 2 /.test(first.output()),
    );

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const restarted = await spawnShard(nats.url, 0, dir);
    expect(restarted.output()).toMatch(/shard 0: resumed from .*: version 2,/);
    // A coordinator that took over resends p2 (and p1): the shard knows them from its checkpoint.
    expect(await apply('p2', 2)).toEqual({ version: 2, duplicate: true });
    expect(await apply('p1', 1)).toEqual({ version: 1, duplicate: true });
    expect(await ref.ask({ type: 'status' })).toEqual(before);
    expect(await apply('p3', 3)).toEqual({ version: 3 });
  }, 60_000);
});
