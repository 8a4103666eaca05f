import { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import type {
  DashboardUpdate,
  LocalSettings,
  RunInfo,
  SampleDigits,
} from '../../shared/dashboardProtocol.js';
import { layoutFromShapes } from '../../shared/layout.js';
import type { CoordinatorStatus, RoundRecord, WorkerStatus } from '../actors/coordinatorTypes.js';
import type { ShardRef } from '../actors/ShardRef.js';
import { ShardTraffic } from '../metrics/ShardTraffic.js';
import { DashboardFeed } from './DashboardFeed.js';

const layout = layoutFromShapes([
  { name: 'dense/kernel', shape: [2, 2] },
  { name: 'dense/bias', shape: [2] },
]);

const local: LocalSettings = {
  localSteps: 50,
  roundSecs: 30,
  localBuffer: null,
  outerOptimizer: 'nesterov',
  outerLr: 0.7,
  outerMomentum: 0.9,
  compressChanges: 'fp16',
};

const run: RunInfo = {
  mode: 'local',
  local,
  model: 'cnn',
  params: layout.totalLength,
  optimizer: 'adam',
  learningRate: 0.001,
  batchSize: 64,
  shardCount: 1,
  tensors: layout.tensors.map((t) => t.name),
  startedAt: 1_000_000,
  unitsPerEpoch: 94,
};

const samples: SampleDigits = { count: 0, pixels: new Uint8Array(0), labels: [] };

/** A worker after its first weight change: 50 inner steps, change norm 0.41. */
function worker(id: string, changeNorm: number | null): WorkerStatus {
  return {
    id,
    volunteer: `v-${id}`,
    trust: null,
    checks: { verified: 0, failed: 0 },
    backend: 'wasm',
    steps: changeNorm === null ? 0 : 1,
    examples: changeNorm === null ? 0 : 3_200,
    refused: {},
    examplesPerSec: 250,
    localSteps: changeNorm === null ? 0 : 50,
    changeNorm,
    connectedAt: 1_000_000,
    lastSeen: 1_002_000,
  };
}

function localRound(id: number): RoundRecord {
  return {
    id,
    closedAt: 1_000_000 + id * 3_000,
    durationMs: 3_000,
    gradients: 2,
    participants: 2,
    kind: 'local',
    changeNorm: 0.5 - id / 100,
    localSteps: 49.5,
  };
}

/** A local-mode run two rounds in, nothing refused. */
function status(rounds: readonly RoundRecord[]): CoordinatorStatus {
  return {
    mode: 'local',
    globalStep: rounds.length,
    examplesSeen: rounds.length * 6_400,
    pushesAccepted: rounds.length * 2,
    epoch: 0.1,
    trainLoss: 0.8,
    examplesPerSec: 500,
    round: (rounds.at(-1)?.id ?? -1) + 1,
    workers: [worker('w1', 0.41), worker('w2', null)],
    refusals: {},
    staleness: [0],
    recentRounds: rounds,
    recentEvents: [],
  };
}

const shard: ShardRef = {
  index: 0,
  ask: (async () => ({ version: 2, weights: new Float32Array([1, 2, 3, 4, 5, 6]) })) as ShardRef['ask'],
};

function feed(current: () => CoordinatorStatus): { feed: DashboardFeed; updates: DashboardUpdate[] } {
  // Attached to no HTTP server: nothing listens, and the feed's close() disconnects its namespace.
  const io = new Server();
  const updates: DashboardUpdate[] = [];
  const dashboard = new DashboardFeed({
    io,
    run,
    layout,
    samples,
    coordinator: { status: current },
    shards: [shard],
    shardOffsets: [0],
    traffic: new ShardTraffic(1),
    latestEvaluation: () => null,
    intervalMs: 60_000,
    parameterViewsEveryMs: 60_000,
    onError: (error) => {
      throw error;
    },
  });
  dashboard.onBroadcast((b) => {
    if (b.event === 'dashboard:update') updates.push(b.payload);
  });
  return { feed: dashboard, updates };
}

describe('DashboardFeed in local mode', () => {
  it('sends the rounds with their kind, change norm and local steps, and each worker its own', async () => {
    const { feed: dashboard, updates } = feed(() => status([localRound(0), localRound(1)]));
    await dashboard.tick();
    dashboard.close();
    const [update] = updates;
    expect(update.rounds).toEqual([
      {
        id: 0,
        kind: 'local',
        durationMs: 3_000,
        gradients: 2,
        participants: 2,
        changeNorm: 0.5,
        localSteps: 49.5,
      },
      {
        id: 1,
        kind: 'local',
        durationMs: 3_000,
        gradients: 2,
        participants: 2,
        changeNorm: 0.49,
        localSteps: 49.5,
      },
    ]);
    expect(update.run.round).toBe(2);
    expect(update.workers.map((w) => [w.id, w.localSteps, w.changeNorm])).toEqual([
      ['w1', 50, 0.41],
      ['w2', 0, null],
    ]);
    expect(update.refusals).toEqual({});
    expect(dashboard.wholeHistory().run.local).toEqual(local);
  });

  it('a sync round has null change norm and local steps', async () => {
    const sync: RoundRecord = {
      ...localRound(0),
      kind: 'sync',
      changeNorm: undefined,
      localSteps: undefined,
    };
    const { feed: dashboard, updates } = feed(() => status([sync]));
    await dashboard.tick();
    dashboard.close();
    expect(updates[0].rounds[0]).toMatchObject({ kind: 'sync', changeNorm: null, localSteps: null });
  });

  it('counts closed rounds by kind once each, though the coordinator resends its recent ones', async () => {
    let rounds: RoundRecord[] = [{ ...localRound(0), kind: 'sync' }, localRound(1)];
    const { feed: dashboard } = feed(() => status(rounds));
    await dashboard.tick();
    rounds = [...rounds, localRound(2), localRound(3)];
    await dashboard.tick();
    // The coordinator keeps a bounded list: the oldest fall off.
    rounds = rounds.slice(2);
    await dashboard.tick();
    dashboard.close();
    expect(dashboard.roundTally.closed).toEqual({ sync: 1, local: 3 });
  });
});
