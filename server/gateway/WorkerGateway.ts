import { publicVolunteerName } from '../actors/VolunteerCredit.js';
import { randomBytes } from 'node:crypto';
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import { ErrorCode, HubError, type HubErrorBody } from '../../shared/errors.js';
import { bytesToFloats, floatsToBytes } from '../../shared/floatCodec.js';
import { halfBytesToFloats } from '../../shared/halfCodec.js';
import type { ParameterLayout, ShardRange } from '../../shared/layout.js';
import {
  CLIENT_EVENTS,
  EXAMPLES_PATH,
  BYTES_PER_FLOAT,
  PROTOCOL_VERSION,
  checkAnswerSchema,
  checkGetSchema,
  completeUnitSchema,
  helloSchema,
  leaseSchema,
  pullSchema,
  pushSchema,
  type ClientToServerEvents,
  type PulledBody,
  type RunConfig,
  type ServerToClientEvents,
} from '../../shared/protocol.js';
import type { CoordinatorPort } from '../actors/CoordinatorPort.js';
import type { WorkAssignment } from '../actors/coordinatorTypes.js';
import type { ShardRef } from '../actors/ShardRef.js';
import type { ShardTraffic } from '../metrics/ShardTraffic.js';
import type { WorkChecks } from '../verification/workChecks.js';
import type { AddressBans } from './AddressBans.js';
import type { ConnectionLimits } from './ConnectionLimits.js';
import { FiniteCheck } from './FiniteCheck.js';
import { GatheredWeights } from './GatheredWeights.js';
import { parseMessage } from './parseMessage.js';
import { SessionChecks, type SessionVolunteer } from './SessionChecks.js';
import { floatsPerShard, resolveSelection, splitByShard, type Selection } from './selection.js';

export interface WorkerGatewayDeps {
  /** The Coordinator in this process, or (`--role gateway`) one over NATS. */
  readonly coordinator: CoordinatorPort;
  readonly shards: readonly ShardRef[];
  readonly shardRanges: readonly ShardRange[];
  readonly layout: ParameterLayout;
  readonly config: RunConfig;
  readonly traffic: ShardTraffic;
  readonly limits: ConnectionLimits;
  readonly bans: AddressBans;
  /** The checks of volunteers' work (known answer at join, spot checks); none when absent. */
  readonly checks?: WorkChecks;
  /** Internal errors are logged here and never sent to clients. */
  readonly logError: (message: string, error: unknown) => void;
}

type HubServer = Server<ClientToServerEvents, ServerToClientEvents>;
type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents>;
type Handler<S extends z.ZodType> = (
  request: z.infer<S>,
  workerId: string | undefined,
) => Promise<object> | object;

/**
 * Turns socket messages into coordinator and shard messages and back. Every inbound message passes,
 * in this order: schema -> semantic checks (registration, shards/keys, byte length, finite values)
 * -> dispatch. A refusal is a named error in the ack (or a `hub:error` event when there is no ack);
 * the socket stays open and nothing reaches the actors.
 */
export function attachWorkerGateway(io: HubServer, deps: WorkerGatewayDeps): void {
  io.use((socket, next) => {
    deps.bans.bannedForSecs(socket.handshake.address).then((secs) => {
      if (secs === 0) return next();
      deps.coordinator.noteRefusal(undefined, ErrorCode.Banned);
      next(
        Object.assign(
          new Error(
            `connections from this address were closed for too many refused messages; try again in ${secs} s`,
          ),
          { data: { code: ErrorCode.Banned, retryAfterSecs: secs } },
        ),
      );
    }, next);
  });
  const gathered = new GatheredWeights(deps.shardRanges);
  // No push is longer than the whole model (its length is checked first).
  const finite = new FiniteCheck(deps.layout.totalLength);
  io.on('connection', (socket) => new WorkerSession(socket, deps, gathered, finite));
}

class WorkerSession {
  private workerId: string | undefined;
  /** Who hello said the worker is (identity and backend), while registered. */
  private volunteer: SessionVolunteer | undefined;
  private readonly checks: SessionChecks;

  constructor(
    private readonly socket: HubSocket,
    private readonly deps: WorkerGatewayDeps,
    /** Shared by every session, so that pulls of the same versions share one copy. */
    private readonly gathered: GatheredWeights,
    /** Shared by every session: one check runs at a time. */
    private readonly finite: FiniteCheck,
  ) {
    this.checks = new SessionChecks(deps.checks ?? {});
    this.on('hello', helloSchema, (request) => this.hello(request));
    this.on('check:get', checkGetSchema, (_request, id) => {
      this.registered(id);
      return this.checks.issue();
    });
    this.on('check:answer', checkAnswerSchema, (request, id) => {
      this.registered(id);
      return this.checks.answer(request, this.volunteer!);
    });
    this.on('pull', pullSchema, (request, id) => this.pull(request, this.registered(id)));
    this.on('push', pushSchema, (request, id) => this.push(request, this.registered(id)));
    this.on('unit:lease', leaseSchema, (_request, id) => this.lease(this.registered(id)));
    this.on('unit:complete', completeUnitSchema, async (request, id) => ({
      epoch: await deps.coordinator.completeUnit(this.registered(id), request.unitId),
    }));
    socket.onAny((event: string, ...args: unknown[]) => {
      if ((CLIENT_EVENTS as readonly string[]).includes(event)) return;
      deps.coordinator.noteRefusal(this.workerId, ErrorCode.UnknownEvent);
      void this.strike();
      this.refuse(event, args.at(-1), { code: ErrorCode.UnknownEvent, message: `unknown event "${event}"` });
    });
    // socket.io could not decode a frame (it closes the connection right after): say why first.
    socket.on('error', () => this.malformedFrame());
    // Packets socket.io decodes but then closes the connection for, without an 'error': a client's
    // CONNECT_ERROR ("4..."), or a second CONNECT to the namespace it has joined ("0" or "0{...}").
    socket.conn.on('packet', (packet: { type: string; data?: unknown }) => {
      const data = packet.type === 'message' ? packet.data : undefined;
      if (typeof data === 'string' && (data.startsWith('4') || data === '0' || data.startsWith('0{'))) {
        this.malformedFrame();
      }
    });
    socket.on('disconnect', () => {
      if (this.workerId) deps.coordinator.leave(this.workerId);
      this.workerId = undefined;
      void deps.limits.forget(socket.id);
    });
  }

  private malformedFrame(): void {
    this.deps.coordinator.noteRefusal(this.workerId, ErrorCode.MalformedFrame);
    this.socket.emit('hub:error', {
      code: ErrorCode.MalformedFrame,
      message: 'a frame that is not a socket.io packet the hub accepts; the connection is closed',
      event: 'disconnect',
    });
    void this.deps.bans.struckOut(this.socket.handshake.address);
  }

  private async hello(request: z.infer<typeof helloSchema>): Promise<object> {
    if (request.protocolVersion !== PROTOCOL_VERSION) {
      const older = request.protocolVersion < PROTOCOL_VERSION ? 'client' : 'hub';
      throw new HubError(
        ErrorCode.ProtocolMismatch,
        `protocol ${request.protocolVersion} does not match the hub's ${PROTOCOL_VERSION}: the ${older} is too old; reload the page or update it`,
      );
    }
    if (this.workerId) this.deps.coordinator.leave(this.workerId);
    this.checks.reset();
    const identity = request.identity ?? newIdentity();
    this.workerId = await this.deps.coordinator.join({
      backend: request.backend,
      device: request.device,
      identity,
      address: this.socket.handshake.address,
      name: request.name,
    });
    if (!this.socket.connected) {
      // Gone while the join went to a remote coordinator: its disconnect saw no worker to leave.
      this.deps.coordinator.leave(this.workerId);
      this.workerId = undefined;
      throw new HubError(ErrorCode.NotRegistered, 'the connection closed during hello');
    }
    this.volunteer = { workerId: this.workerId, identity, backend: request.backend };
    return {
      workerId: this.workerId,
      identity,
      volunteer: publicVolunteerName(identity),
      config: { ...this.deps.config, mode: this.deps.coordinator.mode },
    };
  }

  private async pull(request: z.infer<typeof pullSchema>, workerId: string): Promise<PulledBody> {
    const { coordinator, layout, shardRanges } = this.deps;
    const selection = resolveSelection(request, layout, shardRanges);
    coordinator.requireRunning();
    // No await in async mode: a pull there is answered in the same turn as the shards' snapshots.
    const work = coordinator.mode === 'async' ? {} : await coordinator.nextWork(workerId);
    return this.snapshot(selection, workerId, work);
  }

  /** The selected weights of every shard's current snapshot, and what a worker needs with them. */
  private async snapshot(selection: Selection, workerId: string, work: WorkAssignment): Promise<PulledBody> {
    const { coordinator, shards, shardRanges } = this.deps;
    const snapshots = await Promise.all(
      shards.map((shard, index) =>
        shard.ask({ type: 'pull' }).then((snapshot) => {
          // What the worker's gradient will be measured against (staleness) once it comes back.
          coordinator.noteShardVersion(index, snapshot.version);
          return snapshot;
        }),
      ),
    );
    const weights = this.gathered.gather(
      selection,
      snapshots.map((s) => s.weights),
    );
    this.deps.traffic.recordOut(floatsPerShard(selection, shardRanges));
    const versions = snapshots.map((s) => s.version);
    if (selection.coversAll) this.checks.notePull(versions, weights, this.volunteer);
    return {
      versions,
      globalStep: coordinator.status().globalStep,
      round: work.round,
      local: work.local,
      batchSize: coordinator.batchSizeFor(workerId),
      weights: floatsToBytes(weights),
    };
  }

  private async push(request: z.infer<typeof pushSchema>, workerId: string): Promise<object> {
    const { coordinator, layout, shardRanges } = this.deps;
    this.checks.requireVerified(this.volunteer!);
    const selection = resolveSelection(request, layout, shardRanges);
    const encoding = request.encoding ?? 'f32';
    const expectedBytes = selection.totalLength * BYTES_PER_FLOAT[encoding];
    if (request.gradient.byteLength !== expectedBytes) {
      throw new HubError(
        ErrorCode.BadLength,
        `gradient has ${request.gradient.byteLength} bytes; the selection needs ${expectedBytes} (${encoding})`,
      );
    }
    if (request.versions.length !== shardRanges.length) {
      throw new HubError(
        ErrorCode.InvalidMessage,
        `versions has ${request.versions.length} entries; the hub has ${shardRanges.length} shards`,
      );
    }
    if (coordinator.mode !== 'async' && !selection.coversAll) {
      throw new HubError(
        ErrorCode.SyncNeedsFullGradient,
        `${coordinator.mode} mode combines whole gradients or changes in rounds: push every shard`,
      );
    }
    const gradient =
      encoding === 'f16' ? halfBytesToFloats(request.gradient) : bytesToFloats(request.gradient);
    const bad = this.finite.firstNonFinite(gradient);
    if (bad >= 0) throw new HubError(ErrorCode.NonFinite, `gradient value ${bad} is ${gradient[bad]}`);
    const result = await coordinator.push(workerId, {
      piecesByShard: splitByShard(selection, gradient, shardRanges),
      versions: request.versions,
      round: request.round,
      examples: request.examples,
      loss: request.loss,
      pushId: request.pushId,
      computeMs: request.computeMs,
      localSteps: request.localSteps,
      batches: request.batches,
    });
    this.deps.traffic.recordIn(floatsPerShard(selection, shardRanges));
    if (!result.duplicate) this.checks.accepted(request, gradient, this.volunteer!);
    if (!request.pullAfter || coordinator.mode !== 'async') return result;
    const everything = resolveSelection({}, layout, shardRanges);
    try {
      return { ...result, pulled: await this.snapshot(everything, workerId, {}) };
    } catch (error) {
      // The push was applied and counted: a shard that went away since must not turn it into a
      // refusal. Without `pulled` the worker pulls for itself (and hears SHARD_UNAVAILABLE then).
      if (error instanceof HubError && error.code === ErrorCode.ShardUnavailable) return result;
      throw error;
    }
  }

  private async lease(workerId: string): Promise<object> {
    const unit = await this.deps.coordinator.leaseUnit(workerId);
    return { unit: { ...unit, url: `${EXAMPLES_PATH}?start=${unit.start}&count=${unit.count}` } };
  }

  private registered(workerId: string | undefined): string {
    if (!workerId || !this.deps.coordinator.touch(workerId)) {
      throw new HubError(ErrorCode.NotRegistered, 'send hello first');
    }
    return workerId;
  }

  /** Registers a handler that validates, dispatches and always answers (ack or `hub:error`). */
  private on<S extends z.ZodType>(event: string, schema: S, handler: Handler<S>): void {
    (this.socket as Socket).on(event, async (...args: unknown[]) => {
      const ack = args.at(-1);
      const payload = typeof ack === 'function' ? args.slice(0, -1) : args;
      try {
        if (!(await this.deps.limits.admit(this.socket.id, binaryBytes(payload)))) {
          throw new HubError(ErrorCode.RateLimited, 'too many messages or bytes per second; slow down');
        }
        if (payload.length !== 1) throw new HubError(ErrorCode.InvalidMessage, `${event} takes one payload`);
        const reply = await handler(parseMessage(schema, payload[0], event), this.workerId);
        if (typeof ack === 'function') ack({ ok: true, ...reply });
      } catch (error) {
        const body = this.sanitise(error);
        this.deps.coordinator.noteRefusal(this.workerId, body.code);
        this.refuse(event, ack, body);
        if (CLIENT_FAULTS.has(body.code)) await this.strike();
      }
    });
  }

  /** One more refusal the client brought on itself; past its budget, the connection is closed. */
  private async strike(): Promise<void> {
    if (!(await this.deps.limits.strike(this.socket.id)) || !this.socket.connected) return;
    this.deps.coordinator.noteRefusal(this.workerId, ErrorCode.TooManyStrikes);
    this.socket.emit('hub:error', {
      code: ErrorCode.TooManyStrikes,
      message: 'too many refused messages from this connection; it is closed',
      event: 'disconnect',
    });
    this.socket.disconnect(true);
    await this.deps.bans.struckOut(this.socket.handshake.address);
  }

  private refuse(event: string, ack: unknown, error: HubErrorBody): void {
    if (typeof ack === 'function') ack({ ok: false, error });
    else this.socket.emit('hub:error', { ...error, event });
  }

  private sanitise(error: unknown): HubErrorBody {
    if (error instanceof HubError) return error.toBody();
    this.deps.logError(`unexpected error for worker ${this.workerId ?? '(unregistered)'}`, error);
    return { code: ErrorCode.Internal, message: 'internal error in the hub' };
  }
}

/** Refusals a client brings on itself (broken or hostile); the training rules' refusals are not. */
const CLIENT_FAULTS = new Set<string>([
  ErrorCode.InvalidMessage,
  ErrorCode.UnknownEvent,
  ErrorCode.BadLength,
  ErrorCode.NonFinite,
  ErrorCode.UnknownShard,
  ErrorCode.UnknownKey,
  ErrorCode.ProtocolMismatch,
  ErrorCode.NotRegistered,
  ErrorCode.DuplicateInRound,
  ErrorCode.SyncNeedsFullGradient,
  ErrorCode.UnknownUnit,
  ErrorCode.Untrusted,
  ErrorCode.Outlier,
  ErrorCode.RateLimited,
]);

/** 128 random bits: an identity nobody can guess, so nobody can take over another's trust. */
function newIdentity(): string {
  return randomBytes(16).toString('base64url');
}

/** Bytes of the binary values in a message (a gradient); the JSON around them is small and capped. */
function binaryBytes(payload: readonly unknown[]): number {
  let bytes = 0;
  for (const item of payload) {
    if (item instanceof Uint8Array || item instanceof ArrayBuffer) bytes += item.byteLength;
    else if (item !== null && typeof item === 'object') {
      for (const value of Object.values(item)) {
        if (value instanceof Uint8Array || value instanceof ArrayBuffer) bytes += value.byteLength;
      }
    }
  }
  return bytes;
}
