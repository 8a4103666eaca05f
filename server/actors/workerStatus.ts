import { createHash } from 'node:crypto';
import type { WorkerRecord, WorkerStatus } from './coordinatorTypes.js';

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

/**
 * The identity token is a bearer secret (whoever shows it inherits the volunteer's trust), so pages
 * and metrics show a short hash of it instead: stable across reconnects, useless to impersonate.
 */
function publicVolunteerName(volunteer: string): string {
  return `v-${createHash('sha256').update(volunteer).digest('hex').slice(0, 8)}`;
}
