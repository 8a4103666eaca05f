import { RequestError, TimeoutError, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { TrainingMode } from '../../shared/protocol.js';
import type { GradientPush, PushResult, WorkAssignment, WorkerInfo } from '../actors/Coordinator.js';
import type { CoordinatorPort } from '../actors/CoordinatorPort.js';
import type { LeasedUnit } from '../data/UnitPool.js';
import type { HubStatus } from '../hubStatus.js';
import type { VolunteerStanding } from '../actors/VolunteerCredit.js';
import {
  decodeReply,
  encodeCall,
  pushToWire,
  type CoordinatorCalls,
  type CoordinatorNotes,
  type CoordinatorState,
  type GatewaySetup,
} from './coordinatorRpc.js';
import { coordinatorStateSubject, coordinatorSubject } from './subjects.js';
import { decodeFrame } from './shardCodec.js';

/** Above the coordinator's own shard timeout (10 s): a push the shards answer late is still heard. */
export const DEFAULT_COORDINATOR_TIMEOUT_MS = 15_000;
/** A gateway renews a worker's leases at the coordinator at most this often on pulls alone. */
const TOUCH_EVERY_MS = 1_000;

export interface RemoteCoordinatorOptions {
  readonly connection: NatsConnection;
  readonly subjectPrefix: string;
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

interface KnownWorker {
  batchSize?: number;
  touchedAt: number;
}

/**
 * The coordinator process's Coordinator, as a `--role gateway` process uses it (CoordinatorPort).
 * What the gateway asks synchronously is answered here: `touch` from the workers that joined through
 * this gateway (and renews their leases at the coordinator, at most once a second), `mode`,
 * `requireRunning` and the global step from the coordinator's broadcast state (four times a second,
 * and from every push's reply), `batchSizeFor` from the worker's last join or push reply. Everything
 * that changes the run goes to the coordinator, which alone decides.
 *
 * A coordinator that does not answer is SHARD_UNAVAILABLE for the worker (retry in a moment), as a
 * shard that does not answer: the worker's reaction is the same, and the gateway's log names it.
 */
export class RemoteCoordinator implements CoordinatorPort {
  private state: CoordinatorState;
  private readonly workers = new Map<string, KnownWorker>();
  private readonly subscription: Subscription;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;
  private down = false;
  /** Gives up each request awaiting the coordinator's answer. */
  private readonly inFlight = new Set<() => void>();

  private constructor(
    private readonly options: RemoteCoordinatorOptions,
    state: CoordinatorState,
    readonly setup: GatewaySetup,
  ) {
    this.state = state;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_COORDINATOR_TIMEOUT_MS;
    this.log = options.log ?? (() => undefined);
    this.subscription = options.connection.subscribe(coordinatorStateSubject(options.subjectPrefix), {
      callback: (error, msg) => {
        if (error) return;
        try {
          const frame = decodeFrame(msg.data) as { value: CoordinatorState };
          this.heard(frame.value);
        } catch {
          // A broadcast that does not decode changes nothing; the next one will.
        }
      },
    });
  }

  /** Asks the coordinator for its run setup and state; fails with a named error when none answers. */
  static async connect(options: RemoteCoordinatorOptions): Promise<RemoteCoordinator> {
    const ask = <M extends keyof CoordinatorCalls>(method: M) =>
      options.connection
        .request(coordinatorSubject(options.subjectPrefix, method), encodeCall({}), {
          timeout: options.timeoutMs ?? DEFAULT_COORDINATOR_TIMEOUT_MS,
        })
        .then((msg) => decodeReply(msg.data) as CoordinatorCalls[M]['reply']);
    try {
      const [setup, state] = [await ask('setup'), await ask('state')];
      return new RemoteCoordinator(options, state, setup);
    } catch (error) {
      if (error instanceof RequestError || error instanceof TimeoutError) {
        throw new CoordinatorMissingError(
          `no coordinator answers on NATS subject "${coordinatorSubject(options.subjectPrefix, 'setup')}": ` +
            `start one (--role coordinator) with the same --nats and --subject-prefix first`,
        );
      }
      throw error;
    }
  }

  get mode(): TrainingMode {
    return this.state.mode;
  }

  /** The coordinator's GET /api/status. */
  hubStatus(): Promise<HubStatus> {
    return this.call('status', {});
  }

  /** The coordinator's GET /api/volunteers. */
  volunteers(): Promise<VolunteerStanding[]> {
    return this.call('volunteers', {});
  }

  async join(info: WorkerInfo): Promise<string> {
    const { workerId, batchSize } = await this.call('join', { info });
    this.workers.set(workerId, { batchSize, touchedAt: Date.now() });
    return workerId;
  }

  leave(workerId: string): void {
    this.workers.delete(workerId);
    this.note('leave', { workerId });
  }

  touch(workerId: string): boolean {
    const worker = this.workers.get(workerId);
    if (!worker) return false;
    const now = Date.now();
    if (now - worker.touchedAt >= TOUCH_EVERY_MS) {
      worker.touchedAt = now;
      this.note('touch', { workerId });
    }
    return true;
  }

  requireRunning(): void {
    if (this.state.paused) {
      throw new HubError(ErrorCode.Paused, 'training is paused by the operator; try again in a moment');
    }
  }

  noteRefusal(workerId: string | undefined, code: string): void {
    this.note('noteRefusal', { workerId, code });
  }

  /**
   * Published as pulls read it. Across processes this may reach the coordinator after the reply of an
   * apply that came later (it stands until the next apply's reply): staleness is then counted low
   * for a moment, never high. Without it, a shard restarted from an older checkpoint would have every
   * gradient refused as stale until an apply succeeded, which none would.
   */
  noteShardVersion(index: number, version: number): void {
    this.note('noteShardVersion', { index, version });
  }

  batchSizeFor(workerId: string): number | undefined {
    return this.workers.get(workerId)?.batchSize;
  }

  async nextWork(workerId: string): Promise<WorkAssignment> {
    if (this.state.mode === 'async') return {};
    return this.call('nextWork', { workerId }, this.syncTimeoutMs());
  }

  async push(workerId: string, push: GradientPush): Promise<PushResult> {
    const { result, batchSize } = await this.call(
      'push',
      { workerId, push: pushToWire(push) },
      this.state.mode !== 'async' ? this.syncTimeoutMs() : this.timeoutMs,
    );
    const worker = this.workers.get(workerId);
    if (worker) {
      worker.batchSize = batchSize;
      worker.touchedAt = Date.now();
    }
    if (result.globalStep > this.state.globalStep)
      this.state = { ...this.state, globalStep: result.globalStep };
    return result;
  }

  leaseUnit(workerId: string): Promise<LeasedUnit> {
    return this.call('leaseUnit', { workerId });
  }

  async completeUnit(workerId: string, unitId: number): Promise<number> {
    return (await this.call('completeUnit', { workerId, unitId })).epoch;
  }

  status(): { readonly globalStep: number } {
    return { globalStep: this.state.globalStep };
  }

  async close(): Promise<void> {
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
  }

  /** A broadcast: the coordinator's state as it is now (a reset takes the global step back to 0). */
  private heard(state: CoordinatorState): void {
    const replaced = state.incarnation !== this.state.incarnation;
    this.state = state;
    if (!replaced) return;
    // Another coordinator process took over (a standby) or started again: it knows none of this
    // gateway's workers (each will say hello again), and the dead one will answer nothing asked of it.
    this.workers.clear();
    const abandoned = [...this.inFlight];
    this.inFlight.clear();
    if (abandoned.length > 0 || this.down) {
      this.log(
        `gateway: another coordinator process answers now; ${abandoned.length} request(s) to the last one given up`,
      );
    }
    for (const giveUp of abandoned) giveUp();
  }

  /** Sync mode: a pull waits for a round and a push for its round to close. */
  private syncTimeoutMs(): number {
    return this.setup.config.roundTimeoutMs + this.timeoutMs;
  }

  private async call<M extends keyof CoordinatorCalls>(
    method: M,
    body: CoordinatorCalls[M]['body'],
    timeoutMs = this.timeoutMs,
  ): Promise<CoordinatorCalls[M]['reply']> {
    let data: Uint8Array;
    let giveUp: () => void = () => undefined;
    try {
      const request = this.options.connection.request(
        coordinatorSubject(this.options.subjectPrefix, method),
        encodeCall(body),
        { timeout: timeoutMs },
      );
      // Given up when another coordinator process speaks: the one asked is gone (see heard).
      const abandoned = new Promise<never>((_, reject) => {
        giveUp = () => reject(new TimeoutError());
      });
      this.inFlight.add(giveUp);
      data = (await Promise.race([request, abandoned])).data;
    } catch (error) {
      throw this.unavailable(error, method);
    } finally {
      this.inFlight.delete(giveUp);
    }
    if (this.down) {
      this.down = false;
      this.log('gateway: the coordinator answers again');
    }
    try {
      return decodeReply(data) as CoordinatorCalls[M]['reply'];
    } catch (error) {
      if (error instanceof HubError && error.code === ErrorCode.NotRegistered && 'workerId' in body) {
        // The coordinator does not know the worker (it was restarted): it must say hello again.
        this.workers.delete(String(body.workerId));
      }
      throw error;
    }
  }

  private note<M extends keyof CoordinatorNotes>(method: M, body: CoordinatorNotes[M]): void {
    try {
      this.options.connection.publish(
        coordinatorSubject(this.options.subjectPrefix, method),
        encodeCall(body),
      );
    } catch (error) {
      this.log(`gateway: could not tell the coordinator "${method}": ${(error as Error).message}`);
    }
  }

  private unavailable(error: unknown, method: string): Error {
    if (!(error instanceof RequestError || error instanceof TimeoutError)) return error as Error;
    if (!this.down) {
      this.down = true;
      this.log(
        `gateway: the coordinator did not answer "${method}" (${error.message}); workers are refused ` +
          `with SHARD_UNAVAILABLE and retry`,
      );
    }
    return new HubError(
      ErrorCode.ShardUnavailable,
      'the coordinator is not answering (its process may be restarting); the worker will pull again and ' +
        'retry in a moment',
    );
  }
}

export class CoordinatorMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoordinatorMissingError';
  }
}
