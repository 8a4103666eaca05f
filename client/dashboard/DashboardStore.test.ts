import { describe, expect, it } from 'vitest';
import type {
  DashboardHistory,
  DashboardUpdate,
  HistoryPoint,
  LocalSettings,
  RoundRow,
  RunInfo,
  WorkerRow,
} from '../../shared/dashboardProtocol.js';
import { halveRows } from './columns.js';
import { DashboardStore, H, MAX_ROWS, R, toBytes } from './DashboardStore.js';
import { describeMode, describeModeFully, formatSteps, MODE_SUMMARIES } from './modeDetail.js';
import { RefusalRates } from './RefusalRates.js';
import { refusalReason } from './refusalReasons.js';
import { MAX_WORKER_LINES, WorkerRates } from './WorkerRates.js';

const local: LocalSettings = {
  localSteps: 50,
  roundSecs: null,
  localBuffer: null,
  outerOptimizer: 'nesterov',
  outerLr: 0.7,
  outerMomentum: 0.9,
  compressChanges: 'fp16',
};

const run: RunInfo = {
  mode: 'async',
  local,
  model: 'cnn',
  params: 5994,
  optimizer: 'adam',
  learningRate: 0.001,
  batchSize: 64,
  shardCount: 2,
  tensors: ['conv1/kernel', 'conv1/bias'],
  startedAt: 1_000_000,
  unitsPerEpoch: 94,
};

function point(i: number): HistoryPoint {
  return {
    t: i,
    globalStep: i * 10,
    examplesSeen: i * 640,
    examplesPerSec: 640,
    pushesPerSec: 10,
    trainLoss: 2 / (i + 1),
    testAccuracy: i % 5 === 0 ? i / 1000 : null,
    testLoss: null,
    workers: 1,
    norms: [1 + i, 0.1 * i],
  };
}

function worker(id: string, examplesPerSec = 100): WorkerRow {
  return {
    id,
    volunteer: `v-${id}`,
    trust: null,
    checks: { verified: 0, failed: 0 },
    backend: 'wasm',
    examplesPerSec,
    steps: 1,
    credit: 64,
    localSteps: 0,
    changeNorm: null,
    refused: {},
    connectedAt: 0,
    lastSeen: 0,
  };
}

function update(i: number, extra: Partial<DashboardUpdate> = {}): DashboardUpdate {
  const p = point(i);
  return {
    at: run.startedAt + i * 1000,
    point: p,
    run: {
      globalStep: p.globalStep,
      examplesSeen: p.examplesSeen,
      epoch: 0.5,
      round: null,
      testAccuracy: null,
      testLoss: null,
      trainLoss: p.trainLoss,
    },
    workers: [worker('w1')],
    shards: [],
    refusals: {},
    staleness: [3, 1],
    rounds: [],
    events: [],
    predictions: null,
    ...extra,
  };
}

function syncRound(id: number): RoundRow {
  return {
    id,
    kind: 'sync',
    durationMs: 100 + id,
    gradients: 2,
    participants: 2,
    changeNorm: null,
    localSteps: null,
  };
}

function history(
  points: number,
  latest: DashboardUpdate | null = null,
  runInfo: RunInfo = run,
): DashboardHistory {
  // As in a browser: binary fields arrive as ArrayBuffer.
  const pixels = new Uint8Array(32 * 784).map((_, i) => i % 256).buffer as unknown as Uint8Array;
  return {
    run: runInfo,
    points: Array.from({ length: points }, (_, i) => point(i)),
    samples: { count: 32, pixels, labels: Array.from({ length: 32 }, (_, i) => i % 10) },
    latest,
  };
}

describe('DashboardStore', () => {
  it('ignores updates until the history arrives', () => {
    const store = new DashboardStore();
    store.applyUpdate(update(1));
    expect(store.getSnapshot().run).toBeNull();
    expect(store.getSnapshot().history.length).toBe(0);
  });

  it('takes the history whole, then appends one row per update to the same arrays', () => {
    const store = new DashboardStore();
    store.applyHistory(history(5));
    const first = store.getSnapshot();
    expect(first.connection).toBe('live');
    expect(first.history.length).toBe(5);
    expect(first.history.columns[H.step]).toEqual([0, 10, 20, 30, 40]);
    expect(first.history.columns[H.testAccuracy][0]).toBe(0);
    expect(first.history.columns[H.firstNorm + 1][2]).toBeCloseTo(0.2);
    expect(first.samples?.images).toHaveLength(32);
    expect(first.samples?.images[1][0]).toBe(784 % 256);

    const steps = first.history.columns[H.step];
    store.applyUpdate(update(5));
    const second = store.getSnapshot();
    expect(second).not.toBe(first);
    expect(second.revision).toBe(first.revision + 1);
    expect(second.updates).toBe(1);
    // Appended in place: the charts hold these very arrays.
    expect(second.history.columns[H.step]).toBe(steps);
    expect(steps).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('keeps the last histograms and filters when an update carries none', () => {
    const store = new DashboardStore();
    const filters = {
      title: 'f',
      width: 2,
      height: 2,
      count: 2,
      pixels: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    };
    const histograms = [{ name: 'conv1/kernel', shape: [2], min: 0, max: 1, counts: [1, 1], l2: 1 }];
    store.applyHistory(history(1, update(0, { filters, histograms })));
    expect(store.getSnapshot().filters?.images.map((i) => [...i])).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    store.applyUpdate(update(1));
    expect(store.getSnapshot().histograms).toBe(histograms);
    expect(store.getSnapshot().filters?.images).toHaveLength(2);
  });

  it('a new history replaces everything (a reconnect)', () => {
    const store = new DashboardStore();
    store.applyHistory(history(5));
    store.applyUpdate(update(5));
    store.setConnection('reconnecting');
    expect(store.getSnapshot().connection).toBe('reconnecting');
    store.applyHistory(history(3));
    expect(store.getSnapshot().history.length).toBe(3);
    expect(store.getSnapshot().updates).toBe(0);
    expect(store.getSnapshot().connection).toBe('live');
  });

  it('stays bounded over a long run, keeping the start and the newest row', () => {
    const store = new DashboardStore();
    store.applyHistory(history(600));
    for (let i = 600; i < 600 + 3 * MAX_ROWS; i++) store.applyUpdate(update(i));
    const { history: h } = store.getSnapshot();
    expect(h.length).toBeLessThanOrEqual(MAX_ROWS);
    expect(h.columns[H.t][0]).toBe(0);
    expect(h.columns[H.t].at(-1)).toBe(600 + 3 * MAX_ROWS - 1);
    const t = h.columns[H.t] as number[];
    expect(t.every((v, i) => i === 0 || v > t[i - 1])).toBe(true);
  });

  it('merges sync rounds by id (the hub resends its recent ones)', () => {
    const store = new DashboardStore();
    store.applyHistory(history(1, update(0, { rounds: [syncRound(1), syncRound(2)] })));
    store.applyUpdate(update(1, { rounds: [syncRound(1), syncRound(2), syncRound(3)] }));
    expect(store.getSnapshot().rounds.columns[0]).toEqual([1, 2, 3]);
    expect(store.getSnapshot().rounds.columns[1]).toEqual([101, 102, 103]);
  });
});

describe('local mode', () => {
  const localRun: RunInfo = { ...run, mode: 'local' };

  /** Two workers after their first changes, round 7 of 50 local steps each; nothing refused. */
  function localRound(id: number, changeNorm: number, localSteps = 50): RoundRow {
    return { id, kind: 'local', durationMs: 3_200, gradients: 2, participants: 2, changeNorm, localSteps };
  }

  function localUpdate(i: number, rounds: readonly RoundRow[]): DashboardUpdate {
    const changed = (id: string, norm: number): WorkerRow => ({
      ...worker(id, 300),
      steps: rounds.length,
      credit: rounds.length * 50 * 64,
      localSteps: 50,
      changeNorm: norm,
    });
    const base = update(i, { workers: [changed('w1', 0.41), changed('w2', 0.38)], rounds, refusals: {} });
    return { ...base, run: { ...base.run, round: (rounds.at(-1)?.id ?? 0) + 1 } };
  }

  it('keeps the change norm and mean local steps of every round; the worker rows carry theirs', () => {
    const store = new DashboardStore();
    store.applyHistory(history(2, localUpdate(1, [localRound(6, 0.52)]), localRun));
    store.applyUpdate(localUpdate(2, [localRound(6, 0.52), localRound(7, 0.47, 48.5)]));
    const { rounds, latest, run: info } = store.getSnapshot();
    expect(info?.mode).toBe('local');
    expect(info?.local).toEqual(local);
    expect(rounds.columns[R.id]).toEqual([6, 7]);
    expect(rounds.columns[R.changeNorm]).toEqual([0.52, 0.47]);
    expect(rounds.columns[R.localSteps]).toEqual([50, 48.5]);
    expect(rounds.columns[R.pushes]).toEqual([2, 2]);
    // A run of one kind: the chart draws the store's own (appended in place) columns.
    expect(rounds.ofKind('local')).toBe(rounds.columns);
    expect(latest?.workers.map((w) => [w.localSteps, w.changeNorm])).toEqual([
      [50, 0.41],
      [50, 0.38],
    ]);
    expect(latest?.run.round).toBe(8);
    expect(store.getSnapshot().refusalRates.codes).toEqual([]);
  });

  it('after a switch from sync, sync rounds have no change norm (a gap), local rounds do', () => {
    const store = new DashboardStore();
    store.applyHistory(
      history(1, localUpdate(0, [syncRound(1), syncRound(2), localRound(3, 0.9)]), localRun),
    );
    const { columns } = store.getSnapshot().rounds;
    expect(columns[R.id]).toEqual([1, 2, 3]);
    expect(columns[R.changeNorm]).toEqual([null, null, 0.9]);
    expect(columns[R.localSteps]).toEqual([null, null, 50]);
    expect(columns[R.durationMs]).toEqual([101, 102, 3_200]);
    // Each chart takes its own kind's rounds.
    const rounds = store.getSnapshot().rounds;
    expect(rounds.ofKind('local')[R.id]).toEqual([3]);
    expect(rounds.ofKind('sync')[R.id]).toEqual([1, 2]);
    expect(rounds.ofKind('sync')[R.pushes]).toEqual([2, 2]);
  });

  it('says what each mode does, local with its round and outer optimizer', () => {
    expect(Object.keys(MODE_SUMMARIES)).toEqual(['async', 'sync', 'local']);
    expect(describeMode(run)).toBe('applied on arrival');
    expect(describeMode({ ...run, mode: 'sync' })).toBe('averaged in rounds');
    expect(describeMode(localRun)).toBe('50-step rounds, outer nesterov lr 0.7');
    expect(describeModeFully(localRun)).toBe(
      'local: 50 local steps per change; each round combines the changes; outer nesterov lr 0.7, momentum 0.9; changes sent as fp16',
    );
    const fedAvg = { ...local, outerOptimizer: 'average', roundSecs: 30 } as const;
    expect(describeMode({ mode: 'local', local: fedAvg })).toBe('50-step rounds, outer average');
    expect(describeModeFully({ mode: 'local', local: fedAvg })).toMatch(
      /^local: 50 local steps or 30 s per change; .*; outer average \(FedAvg\);/,
    );
    expect(describeMode({ mode: 'local', local: { ...local, localBuffer: 4 } })).toBe(
      '50 steps, buffer 4, outer nesterov lr 0.7',
    );
    expect(formatSteps(20)).toBe('20');
    expect(formatSteps(19.25)).toBe('19.3');
    expect(formatSteps(null)).toBe('-');
  });
});

describe('WorkerRates', () => {
  it('gives the first workers a line each and averages the rest', () => {
    const rates = new WorkerRates(100);
    const workers = Array.from({ length: MAX_WORKER_LINES + 3 }, (_, i) => worker(`w${i}`, 10 + i));
    rates.add(0, workers);
    expect(rates.shown.map((l) => l.id)).toEqual(workers.slice(0, MAX_WORKER_LINES).map((w) => w.id));
    expect(rates.showsOthers).toBe(true);
    const columns = rates.columns;
    expect(columns).toHaveLength(1 + MAX_WORKER_LINES + 1);
    expect(columns.at(-1)).toEqual([(18 + 19 + 20) / 3]);
  });

  it('recycles the line of a worker that left for a newcomer, changing the key', () => {
    const rates = new WorkerRates(100);
    const workers = Array.from({ length: MAX_WORKER_LINES }, (_, i) => worker(`w${i}`));
    rates.add(0, workers);
    const key = rates.key;
    rates.add(1, [...workers.slice(1)]);
    expect(rates.key).toBe(key);
    expect(rates.columns[1]).toEqual([100, null]);
    rates.add(2, [...workers.slice(1), worker('new', 50)]);
    expect(rates.key).not.toBe(key);
    expect(rates.shown.map((l) => l.id)).not.toContain('w0');
    const line = rates.shown.findIndex((l) => l.id === 'new');
    expect(rates.columns[1 + line]).toEqual([null, null, 50]);
    expect(rates.showsOthers).toBe(false);
  });

  it('stays bounded', () => {
    const rates = new WorkerRates(50);
    for (let t = 0; t < 500; t++) rates.add(t, [worker('a')]);
    expect(rates.t.length).toBeLessThanOrEqual(50);
    expect(rates.columns.every((c) => c.length === rates.t.length)).toBe(true);
  });
});

describe('RefusalRates', () => {
  it('turns the hub totals into refusals/s per code; a new code gets a line of zeros before it', () => {
    const rates = new RefusalRates(100);
    rates.add(10, { TOO_STALE: 4 });
    expect(rates.latestRate('TOO_STALE')).toBeNull();
    rates.add(12, { TOO_STALE: 10 });
    const key = rates.key;
    rates.add(13, { TOO_STALE: 10, NON_FINITE: 3 });
    expect(rates.codes).toEqual(['TOO_STALE', 'NON_FINITE']);
    expect(rates.key).not.toBe(key);
    expect(rates.columns).toEqual([
      [10, 12, 13],
      [null, 3, 0],
      [null, 0, 3],
    ]);
    expect(rates.latestRate('NON_FINITE')).toBe(3);
    expect(rates.latestRate('BAD_LENGTH')).toBeNull();
  });

  it('ignores a sample that is not after the last (the history latest, sent again)', () => {
    const rates = new RefusalRates(100);
    rates.add(5, { BAD_LENGTH: 1 });
    rates.add(5, { BAD_LENGTH: 1 });
    expect(rates.length).toBe(1);
  });

  it('stays bounded, thinning the totals so that a burst is averaged, not dropped', () => {
    const rates = new RefusalRates(8);
    rates.add(0, { STALE_ROUND: 0 });
    const rateColumn = rates.columns[1];
    let total = 0;
    for (let t = 1; t < 40; t++) {
      // One burst of 30 refusals in one second; none otherwise.
      if (t === 21) total += 30;
      rates.add(t, { STALE_ROUND: total });
    }
    const [t, perSecond] = rates.columns;
    expect(t.length).toBeLessThanOrEqual(8);
    // The chart's arrays are refilled in place.
    expect(perSecond).toBe(rateColumn);
    // Rate x interval adds up to the burst, whatever rows were dropped.
    const refused = perSecond.reduce<number>(
      (sum, r, i) => sum + (r ?? 0) * (i > 0 ? t[i]! - t[i - 1]! : 0),
      0,
    );
    expect(refused).toBeCloseTo(30);
  });

  it('the store keeps them from the history on, and starts over with a new history', () => {
    const store = new DashboardStore();
    store.applyHistory(history(3, update(2, { refusals: { TOO_STALE: 2 } })));
    store.applyUpdate(update(3, { refusals: { TOO_STALE: 5 } }));
    expect(store.getSnapshot().refusalRates.latestRate('TOO_STALE')).toBe(3);
    store.applyHistory(history(1));
    expect(store.getSnapshot().refusalRates.length).toBe(0);
  });

  it('every code has a meaning; an unknown one is still listed', () => {
    expect(refusalReason('TOO_STALE')).toMatchObject({
      kind: 'rule',
      meaning: expect.stringMatching(/--max-staleness/),
    });
    expect(refusalReason('BACKUP_DROPPED').meaning).toMatch(/K pushes/);
    expect(refusalReason('WRONG_UPDATE_KIND')).toMatchObject({ kind: 'rule' });
    expect(refusalReason('NON_FINITE')).toMatchObject({ kind: 'client' });
    expect(refusalReason('toString').meaning).toMatch(/does not know/);
  });
});

describe('columns', () => {
  it('halving keeps the first and the last row', () => {
    const a = [0, 1, 2, 3, 4, 5];
    halveRows([a]);
    expect(a).toEqual([0, 2, 4, 5]);
  });

  it('reads ArrayBuffer and typed-array views alike', () => {
    const bytes = new Uint8Array([9, 8, 7, 6]);
    expect([...toBytes(bytes.buffer)]).toEqual([9, 8, 7, 6]);
    expect([...toBytes(bytes.subarray(1, 3))]).toEqual([8, 7]);
    expect(() => toBytes([1, 2])).toThrow(TypeError);
  });
});
