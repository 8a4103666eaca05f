import { ErrorCode, HubError } from '../../shared/errors.js';
import type { RunConfig, TrainingMode } from '../../shared/protocol.js';
import type { GradientPush, PushResult, WorkAssignment, WorkerInfo } from '../actors/Coordinator.js';
import type { GradientPiece } from '../actors/ShardActor.js';
import type { LeasedUnit } from '../data/UnitPool.js';
import type { HubStatus } from '../hubStatus.js';
import type { VolunteerStanding } from '../actors/VolunteerCredit.js';
import type { HubOptions } from '../options.js';
import { decodeFrame, encodeFrame, remoteError, ShardCodecError } from './shardCodec.js';

/**
 * The coordinator over NATS, for `--role gateway` processes: one request subject per method
 * (`<prefix>.coord.call.<method>`), each body and reply one frame of the shard codec (JSON header,
 * Float32Arrays as raw bytes). Methods without a reply (leave, touch, noteRefusal, noteShardVersion)
 * are plain publishes: NATS delivers one connection's messages in order, so a gateway's join, pushes
 * and leave of one worker reach the coordinator in the order the gateway sent them.
 */

/** What every gateway keeps of the coordinator, refreshed by its broadcasts and replies. */
export interface CoordinatorState {
  readonly mode: TrainingMode;
  readonly paused: boolean;
  readonly globalStep: number;
  /**
   * Which coordinator process speaks (random per process). Another one means the last one died or
   * handed over: what was asked of it will never be answered, and it knew workers this one does not.
   */
  readonly incarnation: string;
}

/** What a gateway needs to serve workers as the coordinator would: its run config and options. */
export interface GatewaySetup {
  readonly config: RunConfig;
  readonly options: HubOptions;
}

/** A GradientPush as a frame carries it: the Map of pieces as entries. */
export interface PushOnWire extends Omit<GradientPush, 'piecesByShard'> {
  readonly pieces: readonly (readonly [number, readonly GradientPiece[]])[];
}

/** Request bodies and replies, by method. */
export interface CoordinatorCalls {
  setup: { body: Record<string, never>; reply: GatewaySetup };
  state: { body: Record<string, never>; reply: CoordinatorState };
  status: { body: Record<string, never>; reply: HubStatus };
  volunteers: { body: Record<string, never>; reply: VolunteerStanding[] };
  join: { body: { info: WorkerInfo }; reply: { workerId: string; batchSize?: number } };
  nextWork: { body: { workerId: string }; reply: WorkAssignment };
  push: {
    body: { workerId: string; push: PushOnWire };
    reply: { result: PushResult; batchSize?: number };
  };
  leaseUnit: { body: { workerId: string }; reply: LeasedUnit };
  completeUnit: { body: { workerId: string; unitId: number }; reply: { epoch: number } };
}

/** Publishes, answered by nobody. */
export interface CoordinatorNotes {
  leave: { workerId: string };
  touch: { workerId: string };
  noteRefusal: { workerId?: string; code: string };
  noteShardVersion: { index: number; version: number };
}

type ReplyFrame =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: { name: string; message: string; code?: string } };

export function pushToWire(push: GradientPush): PushOnWire {
  const { piecesByShard, ...rest } = push;
  return { ...rest, pieces: [...piecesByShard] };
}

export function pushFromWire(wire: PushOnWire): GradientPush {
  const { pieces, ...rest } = wire;
  return { ...rest, piecesByShard: new Map(pieces) };
}

export function encodeCall(body: object): Uint8Array {
  return encodeFrame(body);
}

export function decodeCall(bytes: Uint8Array): Record<string, unknown> {
  const value = decodeFrame(bytes);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShardCodecError('coordinator request is not an object');
  }
  return value as Record<string, unknown>;
}

export function encodeValue(value: unknown): Uint8Array {
  return encodeFrame({ ok: true, value: value ?? null });
}

/** A HubError keeps its code across the process boundary: the worker hears the same refusal. */
export function encodeFailure(error: unknown): Uint8Array {
  const body =
    error instanceof HubError
      ? { name: error.name, message: error.message, code: error.code }
      : error instanceof Error
        ? { name: error.name, message: error.message }
        : { name: 'Error', message: String(error) };
  return encodeFrame({ ok: false, error: body });
}

/** The reply's value, or the coordinator's error thrown again here. */
export function decodeReply(bytes: Uint8Array): unknown {
  const frame = decodeFrame(bytes) as ReplyFrame;
  if (typeof frame !== 'object' || frame === null || typeof frame.ok !== 'boolean') {
    throw new ShardCodecError('frame is not a coordinator reply');
  }
  if (frame.ok) return frame.value;
  const { code, name, message } = frame.error;
  if (code !== undefined && (Object.values(ErrorCode) as string[]).includes(code)) {
    throw new HubError(code as ErrorCode, message);
  }
  throw remoteError({ name, message });
}
