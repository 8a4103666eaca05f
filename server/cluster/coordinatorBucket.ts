import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  type EncodedCheckpoint,
} from '../checkpoints/checkpointFormat.js';
import {
  decodeRunCheckpoint,
  encodeRunCheckpoint,
  type RunCheckpoint,
  type RunCheckpointHeader,
} from '../checkpoints/runCheckpoint.js';

/** The key of the coordinators' bucket that holds the run's coordinator state (a run checkpoint). */
export const STATE_KEY = 'state';

/** `<prefix>-coordinator`, the prefix's dots as `_` (bucket names take no dots). */
export function coordinatorBucketName(subjectPrefix: string): string {
  return `${subjectPrefix.replace(/\./g, '_')}-coordinator`;
}

/**
 * The run's coordinators share one JetStream key-value bucket: the lease (CoordinatorLease) and the
 * coordinator's state, so that a standby or a restarted coordinator carries on where the last one
 * stopped. Null when the NATS server runs without JetStream (`nats-server -js`): the run still works,
 * with its state in the coordinator's own checkpoints only.
 */
export async function openCoordinatorBucket(
  connection: NatsConnection,
  subjectPrefix: string,
): Promise<KV | null> {
  try {
    // History 1: only the latest state and lease matter; older revisions would only take room.
    return await new Kvm(connection).create(coordinatorBucketName(subjectPrefix), { history: 1 });
  } catch (error) {
    // The class is not exported by @nats-io/jetstream's entry point; its name is stable.
    if (error instanceof Error && error.name === 'JetStreamNotEnabled') return null;
    throw error;
  }
}

/** The coordinator's state as the bucket keeps it: a run checkpoint in the checkpoint file format. */
export class CoordinatorStateStore {
  constructor(private readonly bucket: KV) {}

  async save(run: RunCheckpoint): Promise<void> {
    await this.bucket.put(STATE_KEY, encodeCheckpoint(encodeRunCheckpoint(run)));
  }

  /** The last state saved, or null when no coordinator of this run saved one yet. */
  async load(): Promise<RunCheckpoint | null> {
    const entry = await this.bucket.get(STATE_KEY);
    if (entry === null || entry.operation !== 'PUT') return null;
    const encoded = decodeCheckpoint(Buffer.from(entry.value)) as EncodedCheckpoint<RunCheckpointHeader>;
    return decodeRunCheckpoint(encoded);
  }

  /** Forgets the state (a run started over with --fresh). */
  async clear(): Promise<void> {
    await this.bucket.delete(STATE_KEY);
  }
}
