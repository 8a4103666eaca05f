import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { RoundRecord, WorkerStatus } from '../actors/coordinatorTypes.js';
import { hubRounds, hubWorkers, localSettings, RoundTally, type HubStatus } from '../hubStatus.js';
import { DEFAULT_HUB_OPTIONS } from '../options.js';
import { createHubMetrics } from './hubMetrics.js';

function worker(id: string, changeNorm: number | null): WorkerStatus {
  return {
    id,
    volunteer: `v-${id}`,
    trust: null,
    checks: { verified: 0, failed: 0 },
    backend: 'wasm',
    steps: 3,
    examples: 9_600,
    refused: {},
    examplesPerSec: 320,
    localSteps: changeNorm === null ? 0 : 50,
    changeNorm,
    connectedAt: 0,
    lastSeen: 0,
  };
}

function round(id: number, kind: RoundRecord['kind']): RoundRecord {
  return {
    id,
    closedAt: 10_000 + id,
    durationMs: 3_100,
    gradients: 2,
    participants: 2,
    kind,
    ...(kind === 'local' ? { changeNorm: 0.25 + id / 100, localSteps: 48 } : {}),
  };
}

/** A local-mode hub three local rounds in (after one sync round), nothing refused. */
function localStatus(tally = new RoundTally()): HubStatus {
  const recent = [round(0, 'sync'), round(1, 'local'), round(2, 'local'), round(3, 'local')];
  return {
    protocolVersion: PROTOCOL_VERSION,
    mode: 'local',
    model: { name: 'cnn', params: 5994 },
    optimizer: 'adam',
    learningRate: 0.001,
    paused: false,
    batchSize: 64,
    shards: [],
    globalStep: 4,
    examplesSeen: 19_200,
    pushesAccepted: 7,
    epoch: 0.3,
    round: 4,
    rounds: hubRounds(tally, recent),
    local: localSettings({ ...DEFAULT_HUB_OPTIONS, localSteps: 50, roundSecs: 20 }),
    trainLoss: 0.5,
    testAccuracy: null,
    testLoss: null,
    evaluation: null,
    examplesPerSec: 640,
    refusals: {},
    uptimeSec: 12,
    workers: hubWorkers([worker('w1', 0.31), worker('w2', null)]),
  };
}

/** `name{labels} value` lines of the exposition text, by name and labels. */
function samples(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

describe('/api/status in local mode', () => {
  it('lists each worker with its local steps and change norm, and says the local settings', () => {
    const status = localStatus();
    expect(status.workers).toEqual([
      {
        id: 'w1',
        volunteer: 'v-w1',
        trust: null,
        checks: { verified: 0, failed: 0 },
        backend: 'wasm',
        device: undefined,
        steps: 3,
        examples: 9_600,
        examplesPerSec: 320,
        localSteps: 50,
        changeNorm: 0.31,
      },
      {
        id: 'w2',
        volunteer: 'v-w2',
        trust: null,
        checks: { verified: 0, failed: 0 },
        backend: 'wasm',
        device: undefined,
        steps: 3,
        examples: 9_600,
        examplesPerSec: 320,
        localSteps: 0,
        changeNorm: null,
      },
    ]);
    expect(status.local).toEqual({
      localSteps: 50,
      roundSecs: 20,
      localBuffer: null,
      outerOptimizer: 'nesterov',
      outerLr: 0.7,
      outerMomentum: 0.9,
      compressChanges: 'fp16',
    });
    expect(localSettings(DEFAULT_HUB_OPTIONS).roundSecs).toBeNull();
    expect(status.rounds).toEqual({
      closed: { sync: 1, local: 3 },
      last: {
        id: 3,
        kind: 'local',
        closedAt: 10_003,
        durationMs: 3_100,
        pushes: 2,
        participants: 2,
        changeNorm: 0.28,
        localSteps: 48,
      },
    });
  });

  it('counts each round once, whoever reads the recent ones first', () => {
    const tally = new RoundTally();
    tally.observe([round(0, 'sync'), round(1, 'local')]);
    const rounds = hubRounds(tally, [round(1, 'local'), round(2, 'local')]);
    expect(rounds.closed).toEqual({ sync: 1, local: 2 });
    expect(hubRounds(new RoundTally(), [])).toEqual({ closed: { sync: 0, local: 0 }, last: null });
  });
});

describe('/metrics', () => {
  it('has local rounds closed, the last round change norm and steps, and each worker change norm', async () => {
    const registry = createHubMetrics(async () => localStatus());
    const values = samples(await registry.metrics());
    expect(values.get('trainer_local_rounds_closed')).toBe(3);
    expect(values.get('trainer_local_change_norm')).toBeCloseTo(0.28);
    expect(values.get('trainer_local_round_steps')).toBe(48);
    expect(values.get('trainer_worker_change_norm{worker="w1",backend="wasm"}')).toBeCloseTo(0.31);
    // A worker without a change yet has no change norm line.
    expect([...values.keys()].some((k) => k.startsWith('trainer_worker_change_norm{worker="w2"'))).toBe(
      false,
    );
    expect(values.get('trainer_global_step')).toBe(4);
    expect(values.get('trainer_workers')).toBe(2);
  });

  it('a sync hub reports no local change norm', async () => {
    const sync: HubStatus = {
      ...localStatus(),
      mode: 'sync',
      local: undefined,
      rounds: hubRounds(new RoundTally(), [round(0, 'sync')]),
      workers: hubWorkers([worker('w1', null)]),
    };
    const values = samples(await createHubMetrics(async () => sync).metrics());
    expect(values.get('trainer_local_rounds_closed')).toBe(0);
    // prom-client shows a gauge that was never set as 0 (as it does trainer_test_accuracy before an evaluation).
    expect(values.get('trainer_local_change_norm')).toBe(0);
  });
});
