/**
 * Builds `/api/status` (and the Prometheus figures drawn from it) from the live parts of a hub: the
 * coordinator's counters, every shard's status, the latest evaluation. Apart from createHub, which
 * only wires the parts together; the shape itself is in hubStatus.ts.
 */
import type { ParameterLayout } from '../shared/layout.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import type { Coordinator } from './actors/Coordinator.js';
import type { ShardRef } from './actors/ShardRef.js';
import type { PeriodicEvaluation } from './evaluation/PeriodicEvaluation.js';
import { hubRounds, hubWorkers, localSettings, type HubStatus, type RoundTally } from './hubStatus.js';
import type { HubOptions } from './options.js';

/** What the status reads; the getters are read at each call (the operator may change the rate). */
export interface HubStatusParts {
  readonly options: HubOptions;
  readonly layout: ParameterLayout;
  readonly coordinator: Coordinator;
  readonly shards: readonly ShardRef[];
  readonly evaluation: PeriodicEvaluation;
  /** When the run first started (Date.now()); uptime counts from it. */
  readonly startedAt: number;
  readonly learningRate: () => number;
  /** The dashboard's tally of rounds (read lazily: the feed is built after the routes that serve this). */
  readonly roundTally: () => RoundTally;
}

/** A function that answers the hub's status at the moment it is called. */
export function hubStatusBuilder(parts: HubStatusParts): () => Promise<HubStatus> {
  const { options, layout, coordinator, shards, evaluation, startedAt } = parts;
  return async () => {
    const run = coordinator.status();
    const latest = evaluation.latest;
    return {
      protocolVersion: PROTOCOL_VERSION,
      mode: coordinator.mode,
      model: { name: options.model, params: layout.totalLength },
      optimizer: options.optimizer,
      learningRate: parts.learningRate(),
      paused: coordinator.paused,
      batchSize: options.batchSize,
      shards: await Promise.all(shards.map((shard) => shard.ask({ type: 'status' }))),
      globalStep: run.globalStep,
      examplesSeen: run.examplesSeen,
      pushesAccepted: run.pushesAccepted,
      epoch: run.epoch,
      round: run.round,
      rounds: hubRounds(parts.roundTally(), run.recentRounds),
      ...(coordinator.mode === 'local' ? { local: localSettings(options) } : {}),
      trainLoss: run.trainLoss,
      testAccuracy: latest?.accuracy ?? null,
      testLoss: latest?.loss ?? null,
      evaluation: latest
        ? {
            globalStep: latest.globalStep,
            examplesSeen: latest.examplesSeen,
            examples: latest.examples,
            at: latest.at,
          }
        : null,
      examplesPerSec: run.examplesPerSec,
      refusals: run.refusals,
      uptimeSec: (Date.now() - startedAt) / 1000,
      workers: hubWorkers(run.workers),
    };
  };
}
