import type { WorkerRecord } from './coordinatorTypes.js';
import type { ModeHost } from './modes/TrainingStrategy.js';
import type { RunCounters } from './RunCounters.js';
import type { ShardRef } from './ShardRef.js';
import type { VolunteerCredit } from './VolunteerCredit.js';

/** The parts of the Coordinator a mode strategy may use (see ModeHost). */
export interface ModeHostParts {
  readonly shards: readonly ShardRef[];
  readonly now: () => number;
  readonly isClosed: () => boolean;
  readonly workers: ReadonlyMap<string, WorkerRecord>;
  /** Whether the screen would refuse this volunteer's pushes now. */
  readonly refuses: (volunteer: string) => boolean;
  readonly counters: RunCounters;
  readonly credit: VolunteerCredit;
  readonly noteShardVersion: (index: number, version: number) => void;
}

/** The Coordinator as its mode strategies see it: registry, counters and credit, nothing else. */
export function coordinatorModeHost(parts: ModeHostParts): ModeHost {
  const { counters, workers } = parts;
  return {
    shards: parts.shards,
    now: parts.now,
    isClosed: parts.isClosed,
    eligibleWorkers: () => [...workers.values()].filter((w) => !parts.refuses(w.volunteer)).map((w) => w.id),
    hasWorkers: () => workers.size > 0,
    globalStep: () => counters.globalStep,
    shardVersion: (index) => counters.shardVersions[index],
    noteShardVersion: parts.noteShardVersion,
    credit: (worker, examples) => {
      counters.pushesAccepted++;
      worker.steps++;
      worker.examples += examples;
      worker.rate.record(examples);
      parts.credit.credit(worker.volunteer, examples);
    },
    applied: (examples, loss) => counters.applied(examples, loss),
    recordRound: (record) => counters.recordRound(record),
    countStaleness: (staleness) => counters.countStaleness(staleness),
  };
}
