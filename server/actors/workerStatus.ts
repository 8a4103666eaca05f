import { RateMeter } from '../metrics/RateMeter.js';
import type { WorkerInfo, WorkerRecord, WorkerStatus } from './coordinatorTypes.js';
import { publicVolunteerName } from './VolunteerCredit.js';

/** What /api/status and the dashboard show of one worker. */
export function workerStatus(worker: WorkerRecord, trust: number | null): WorkerStatus {
  return {
    id: worker.id,
    volunteer: publicVolunteerName(worker.volunteer),
    trust,
    backend: worker.info.backend,
    device: worker.info.device,
    steps: worker.steps,
    examples: worker.examples,
    examplesPerSec: worker.rate.perSecond(),
    localSteps: worker.localSteps,
    changeNorm: worker.changeNorm,
    refused: { ...worker.refused },
    checks: { ...worker.checks },
    connectedAt: worker.connectedAt,
    lastSeen: worker.lastSeen,
  };
}

/** A worker as it joins: nothing done yet, its rate measured over 10 s. */
export function newWorkerRecord(
  id: string,
  info: WorkerInfo,
  volunteer: string,
  at: number,
  now: () => number,
): WorkerRecord {
  return {
    id,
    info,
    volunteer,
    connectedAt: at,
    lastSeen: at,
    steps: 0,
    examples: 0,
    localSteps: 0,
    changeNorm: null,
    refused: {},
    rate: new RateMeter(10_000, now),
    checks: { verified: 0, failed: 0 },
  };
}
