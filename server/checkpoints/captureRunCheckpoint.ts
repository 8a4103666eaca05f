/**
 * Takes a running hub's whole state as a RunCheckpoint: counters, data cursor and every shard at one
 * moment, with the test accuracy of exactly those weights. Apart from createHub (which builds the
 * parts) and from the Checkpointer (which decides when to write one and where).
 */
import type { ParameterLayout } from '../../shared/layout.js';
import type { Coordinator } from '../actors/Coordinator.js';
import type { ShardRef } from '../actors/ShardRef.js';
import type { DashboardFeed } from '../dashboard/DashboardFeed.js';
import type { UnitPool } from '../data/UnitPool.js';
import type { EvaluationResult } from '../evaluation/messages.js';
import type { PeriodicEvaluation } from '../evaluation/PeriodicEvaluation.js';
import type { HubOptions } from '../options.js';
import type { RunCheckpoint } from './runCheckpoint.js';

export interface RunCheckpointParts {
  readonly options: HubOptions;
  readonly layout: ParameterLayout;
  readonly coordinator: Coordinator;
  readonly units: UnitPool;
  readonly shards: readonly ShardRef[];
  /** The shards are processes of their own, each checkpointing itself (a coordinator on NATS). */
  readonly remote: boolean;
  readonly dashboard: DashboardFeed;
  readonly evaluation: PeriodicEvaluation;
  readonly evaluate: (weights: Float32Array) => Promise<EvaluationResult>;
  readonly startedAt: number;
  /** The learning rate now (the operator may have changed it). */
  readonly learningRate: () => number;
}

/**
 * The whole run state at this moment, with the test accuracy of exactly these weights. With remote
 * shards, the coordinator's state only (no shards: each shard process checkpoints itself).
 */
export async function captureRunCheckpoint(parts: RunCheckpointParts): Promise<RunCheckpoint> {
  const { options, layout, coordinator, units, shards, evaluation } = parts;
  // One turn of the event loop: the counters, the data cursor and every shard's state (local
  // shards answer synchronously) describe the same moment.
  const counters = coordinator.checkpoint();
  const cursor = units.state();
  const common = {
    savedAt: Date.now(),
    startedAt: parts.startedAt,
    // The operator may have changed these while the run went on.
    config: { ...options, mode: coordinator.mode, learningRate: parts.learningRate() },
    coordinator: counters,
    units: cursor,
    history: parts.dashboard.historyPoints(),
  };
  // Remote shards checkpoint themselves, each at its own moment (a run checkpoint cannot hold one
  // consistent snapshot of processes that go on applying): the latest measurement stands in.
  if (parts.remote) return { ...common, shards: [], evaluation: evaluation.latest };
  const saved = await Promise.all(shards.map((shard) => shard.ask({ type: 'checkpoint' })));
  const flat = new Float32Array(layout.totalLength);
  saved.forEach((s) => flat.set(s.weights, s.offset));
  const measured = await parts.evaluate(flat);
  return {
    ...common,
    shards: saved,
    evaluation: {
      ...measured,
      globalStep: counters.globalStep,
      examplesSeen: counters.examplesSeen,
      at: Date.now(),
    },
  };
}
