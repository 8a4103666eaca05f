import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { Coordinator, WorkerInfo } from '../actors/Coordinator.js';
import type { DashboardFeed } from '../dashboard/DashboardFeed.js';
import type { HubStatus } from '../hubStatus.js';
import { publishDashboard } from './dashboardRelay.js';
import {
  decodeCall,
  encodeFailure,
  encodeValue,
  pushFromWire,
  type CoordinatorCalls,
  type CoordinatorState,
  type GatewaySetup,
  type PushOnWire,
} from './coordinatorRpc.js';
import { coordinatorStateSubject, coordinatorSubject } from './subjects.js';

/** Gateways hear the mode, pause and global step this often (and with every reply that has them). */
export const DEFAULT_STATE_EVERY_MS = 250;

export interface NatsCoordinatorHostOptions {
  readonly connection: NatsConnection;
  readonly coordinator: Coordinator;
  /** The coordinator's GET /api/status: every gateway answers the same. */
  readonly status: () => Promise<HubStatus>;
  readonly setup: GatewaySetup;
  readonly subjectPrefix: string;
  readonly stateEveryMs?: number;
  /** The coordinator's dashboard, relayed to every gateway's viewers (dashboardRelay.ts). */
  readonly dashboard?: DashboardFeed;
  /** A request that could not be answered at all (the transport failed). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Serves the coordinator process's Coordinator to `--role gateway` processes over NATS (see
 * coordinatorRpc.ts). Requests are not queued behind each other: the Coordinator takes concurrent
 * calls from socket.io sessions already (its state changes happen synchronously inside each method,
 * which starts on the message's arrival, so one gateway's messages take effect in the order sent).
 */
export class NatsCoordinatorHost {
  private readonly subscription: Subscription;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly stateSubject: string;
  private readonly onError: (error: unknown) => void;
  private readonly stopDashboard: () => Promise<void>;
  private readonly incarnation = randomBytes(6).toString('hex');

  constructor(private readonly options: NatsCoordinatorHostOptions) {
    this.onError = options.onError ?? (() => undefined);
    const prefix = options.subjectPrefix;
    const methodAt = coordinatorSubject(prefix, '').length;
    this.subscription = options.connection.subscribe(coordinatorSubject(prefix, '*'), {
      callback: (error, msg) => {
        if (error) this.onError(error);
        else void this.handle(msg.subject.slice(methodAt), msg);
      },
    });
    this.stateSubject = coordinatorStateSubject(prefix);
    this.timer = setInterval(() => this.broadcast(), options.stateEveryMs ?? DEFAULT_STATE_EVERY_MS);
    this.stopDashboard = options.dashboard
      ? publishDashboard({
          connection: options.connection,
          feed: options.dashboard,
          subjectPrefix: prefix,
          onError: this.onError,
        })
      : async () => undefined;
  }

  /** Resolves once the server knows the subscription: a gateway started after this finds it. */
  ready(): Promise<void> {
    return this.options.connection.flush();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.stopDashboard();
    if (!this.subscription.isClosed()) await this.subscription.drain();
  }

  private state(): CoordinatorState {
    const { coordinator } = this.options;
    return {
      mode: coordinator.mode,
      paused: coordinator.paused,
      globalStep: coordinator.status().globalStep,
      incarnation: this.incarnation,
    };
  }

  private broadcast(): void {
    try {
      this.options.connection.publish(this.stateSubject, encodeValue(this.state()));
    } catch (error) {
      this.onError(error);
    }
  }

  private async handle(method: string, msg: Msg): Promise<void> {
    let reply: Uint8Array;
    try {
      const body = decodeCall(msg.data);
      const value = await this.dispatch(method, body);
      if (!msg.reply) return;
      reply = encodeValue(value);
    } catch (error) {
      if (!msg.reply) {
        this.onError(error);
        return;
      }
      reply = encodeFailure(error);
    }
    try {
      msg.respond(reply);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Runs synchronously up to the first await: a method's state change happens on arrival. */
  private dispatch(method: string, body: Record<string, unknown>): unknown {
    const { coordinator } = this.options;
    const workerId = typeof body.workerId === 'string' ? body.workerId : undefined;
    const registered = (): string => {
      // As the gateway's own check: the request is a sign of life and renews the worker's leases.
      if (workerId === undefined || !coordinator.touch(workerId)) {
        throw new HubError(ErrorCode.NotRegistered, 'send hello first');
      }
      return workerId;
    };
    switch (method) {
      case 'setup':
        return this.options.setup;
      case 'state':
        return this.state();
      case 'status':
        return this.options.status();
      case 'volunteers':
        return coordinator.standings();
      case 'join': {
        const id = coordinator.join(body.info as WorkerInfo);
        return {
          workerId: id,
          batchSize: coordinator.batchSizeFor(id),
        } satisfies CoordinatorCalls['join']['reply'];
      }
      case 'nextWork':
        return coordinator.nextWork(registered());
      case 'push': {
        const id = registered();
        return coordinator.push(id, pushFromWire(body.push as PushOnWire)).then((result) => ({
          result,
          batchSize: coordinator.batchSizeFor(id),
        }));
      }
      case 'leaseUnit':
        return coordinator.leaseUnit(registered());
      case 'completeUnit':
        return { epoch: coordinator.completeUnit(registered(), body.unitId as number) };
      case 'leave':
        if (workerId !== undefined) coordinator.leave(workerId);
        return null;
      case 'touch':
        if (workerId !== undefined) coordinator.touch(workerId);
        return null;
      case 'noteRefusal':
        coordinator.noteRefusal(workerId, String(body.code));
        return null;
      case 'noteShardVersion':
        coordinator.noteShardVersion(body.index as number, body.version as number);
        return null;
      default:
        throw new HubError(ErrorCode.Internal, `the coordinator has no method "${method}"`);
    }
  }
}
