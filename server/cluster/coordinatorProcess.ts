import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CheckpointOptions } from '../checkpoints/Checkpointer.js';
import type { RunCheckpoint } from '../checkpoints/runCheckpoint.js';
import type { HubOptions } from '../options.js';
import { startHub, type ListenOptions, type RunningHub } from '../startHub.js';
import { coordinatorBucketName, CoordinatorStateStore, openCoordinatorBucket } from './coordinatorBucket.js';
import { CoordinatorLease, DEFAULT_LEASE_MS } from './CoordinatorLease.js';
import { NatsCoordinatorHost } from './NatsCoordinatorHost.js';
import { connectRemoteShards } from './remoteShards.js';

/** The coordinator's state goes to the bucket this often: what a standby loses of the counters at most. */
export const STATE_EVERY_MS = 500;
/**
 * Round ids a coordinator that takes over skips: the one before it may have opened rounds after its
 * last saved state, and a round id must never mean two rounds (a shard would mix their sums).
 */
const ROUND_ID_GAP = 1_000;

export interface CoordinatorProcessOptions {
  readonly natsUrl: string;
  readonly subjectPrefix: string;
  readonly options: HubOptions;
  readonly listen: ListenOptions;
  /** Absent: no checkpoints on disk (the state still goes to the bucket). */
  readonly checkpoints?: CheckpointOptions;
  /** The lease was lost to another coordinator: the process must stop at once (it exits). */
  readonly onLeaseLost: (reason: string) => void;
  readonly log: (line: string) => void;
}

export interface RunningCoordinator {
  readonly running: RunningHub;
  /** Whether the run's state and lease live in JetStream (false: a nats-server without -js). */
  readonly shared: boolean;
  /** Stops serving, saves the last state, hands the lease over (a standby takes over at once). */
  close(): Promise<void>;
}

/**
 * `--role coordinator`: the hub on shard processes, served to gateways over NATS. With JetStream,
 * every coordinator of a run takes part in one lease (CoordinatorLease): the first coordinates, any
 * other waits as a standby with its shards connected, and takes over when the lease runs out,
 * resuming from the state the last one saved to the bucket twice a second. Without JetStream it
 * coordinates alone, resuming from its checkpoints on disk.
 */
export async function startCoordinatorProcess(opts: CoordinatorProcessOptions): Promise<RunningCoordinator> {
  const { options, log } = opts;
  const remote = await connectRemoteShards({
    natsUrl: opts.natsUrl,
    shards: options.shards,
    subjectPrefix: opts.subjectPrefix,
    log,
  });
  let lease: CoordinatorLease | null = null;
  try {
    const bucket = await openCoordinatorBucket(remote.connection, opts.subjectPrefix);
    const bucketName = coordinatorBucketName(opts.subjectPrefix);
    if (bucket === null) {
      log(
        'hub: this NATS server runs without JetStream (start it with -js): no standby can take over, and a ' +
          'restarted coordinator resumes from its own checkpoints only',
      );
    }
    let waited = false;
    if (bucket) {
      lease = new CoordinatorLease({
        bucket,
        holder: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
        log,
      });
      lease.onLost(opts.onLeaseLost);
      await lease.acquire((holder) => {
        waited = true;
        log(
          `hub: standby: ${holder.holder} coordinates this run${holder.url ? ` (${holder.url})` : ''}; ` +
            `taking over once it stops renewing its lease (${DEFAULT_LEASE_MS / 1000} s)`,
        );
      });
    }
    const store = bucket ? new CoordinatorStateStore(bucket) : null;
    // --fresh starts a run over; a standby taking over carries the run on whatever it was told.
    const asked = opts.checkpoints?.fresh ?? false;
    const fresh = asked && !waited;
    if (asked && waited) log('hub: --fresh ignored: this coordinator takes over a running run');
    const saved = fresh ? null : ((await store?.load()) ?? null);
    const startedAt = Date.now();
    const running = await startHub(
      opts.options,
      opts.listen,
      opts.checkpoints && { ...opts.checkpoints, fresh },
      {
        shards: remote.refs,
        resume: saved ? { checkpoint: skipRoundIds(saved), from: `NATS bucket ${bucketName}` } : undefined,
        // The lease's term is unique per coordinator of the run; without one, a random tag.
        workerIdSuffix: `-c${lease?.term ?? randomBytes(2).toString('hex')}`,
      },
    );
    lease?.advertise(running.url);
    const host = new NatsCoordinatorHost({
      connection: remote.connection,
      coordinator: running.hub.coordinator,
      status: () => running.hub.status(),
      dashboard: running.hub.dashboard,
      setup: { config: running.hub.config, options: running.hub.options },
      subjectPrefix: opts.subjectPrefix,
      onError: (error) => console.error('hub: a gateway request failed:', error),
    });
    await host.ready();
    if (waited) log(`hub: took over the run in ${Date.now() - startedAt} ms after taking the lease`);
    const publisher = store ? new StatePublisher(store, () => running.hub.checkpoint(), log) : null;
    return {
      running,
      shared: bucket !== null,
      close: async () => {
        publisher?.stop();
        await host.close();
        await running.close();
        // After the hub's intake stopped: the last state holds every push it acknowledged.
        await publisher?.saveLast();
        await lease?.release();
        await remote.close();
      },
    };
  } catch (error) {
    await lease?.release();
    await remote.close();
    throw error;
  }
}

function skipRoundIds(run: RunCheckpoint): RunCheckpoint {
  return {
    ...run,
    coordinator: { ...run.coordinator, nextRoundId: run.coordinator.nextRoundId + ROUND_ID_GAP },
  };
}

/** Saves the coordinator's state to the bucket every STATE_EVERY_MS, one save at a time. */
class StatePublisher {
  private readonly timer: ReturnType<typeof setInterval>;
  private saving: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly store: CoordinatorStateStore,
    private readonly capture: () => Promise<RunCheckpoint>,
    private readonly log: (line: string) => void,
  ) {
    this.timer = setInterval(() => void this.saveNow(), STATE_EVERY_MS);
  }

  saveNow(): Promise<void> {
    this.saving ??= (async () => {
      try {
        await this.store.save(await this.capture());
        if (this.failing) this.log('hub: the coordinator state is saved to NATS again');
        this.failing = false;
      } catch (error) {
        if (!this.failing) {
          this.log(`hub: saving the coordinator state to NATS failed: ${(error as Error).message}`);
        }
        this.failing = true;
      } finally {
        this.saving = null;
      }
    })();
    return this.saving;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A save that starts now (after a save in flight, which may have captured an older moment). */
  async saveLast(): Promise<void> {
    await this.saving;
    await this.saveNow();
  }
}
