import { z } from 'zod';
import type { HubErrorBody } from './errors.js';
import { isBinary, type Binary } from './floatCodec.js';
import { MODEL_NAMES } from './models.js';

/**
 * The wire contract between the hub and every client (Node worker, browser worker, tests). Each
 * inbound message is a zod schema and its type is inferred from it; the socket.io event maps below are
 * built from those types. Bump PROTOCOL_VERSION on any incompatible change.
 */
export const PROTOCOL_VERSION = 1;

/**
 * async: each gradient is applied on arrival; sync: one gradient per worker per step, averaged;
 * local: each worker trains the round's weights itself for several inner steps and pushes its weight
 * change, and the shards apply an outer optimizer to the combined change (DiLoCo / FedAvg).
 */
export const TRAINING_MODES = ['async', 'sync', 'local'] as const;

/** `--outer-optimizer`: what the shards do with a local round's combined weight change. */
export const OUTER_OPTIMIZERS = ['nesterov', 'average'] as const;
export type OuterOptimizerName = (typeof OUTER_OPTIMIZERS)[number];

/** How a pushed gradient is encoded on the wire, and the bytes of one float in each. */
export const GRADIENT_ENCODINGS = ['f32', 'f16'] as const;
export type GradientEncoding = (typeof GRADIENT_ENCODINGS)[number];
export const BYTES_PER_FLOAT: Readonly<Record<GradientEncoding, number>> = { f32: 4, f16: 2 };
/** `--compress`: what the hub asks its workers to push. */
export const COMPRESSIONS = ['none', 'fp16'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
export type TrainingMode = (typeof TRAINING_MODES)[number];

/** The most batches a push may list (a local round's inner steps). */
export const MAX_BATCHES_PER_PUSH = 4096;

const binary = z.custom<Binary>(isBinary, { message: 'expected a binary payload (ArrayBuffer or bytes)' });
const count = z.number().int().nonnegative();

/** 1-32 characters; no space at either end (names are shown to everyone, trimmed or not). */
export const DISPLAY_NAME = /^[\p{L}\p{N}_.-](?:[\p{L}\p{N} _.-]{0,30}[\p{L}\p{N}_.-])?$/u;

export const helloSchema = z.strictObject({
  protocolVersion: z.number().int(),
  /** The TF.js backend the worker computes on: 'wasm', 'webgpu', 'webgl', 'cpu'. */
  backend: z.string().min(1).max(32),
  /** Human-readable device, e.g. the WebGPU adapter; shown on the dashboard. */
  device: z.string().max(200).optional(),
  /**
   * The identity the hub issued at an earlier hello (see HelloReply): the volunteer's trust and
   * checks follow it. A token this hub did not issue is a newcomer's, like none at all.
   */
  identity: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,64}$/, 'an identity is 16-64 characters of [A-Za-z0-9_-]')
    .optional(),
  /** A display name for the leaderboard (GET /api/volunteers); letters, digits, space, `_ . -`. */
  name: z
    .string()
    .regex(
      DISPLAY_NAME,
      'a display name is 1-32 letters, digits, spaces, "_", "." or "-", not starting or ending with a space',
    )
    .optional(),
});
export type HelloRequest = z.infer<typeof helloSchema>;

/**
 * Which part of the flat vector a pull or push covers: whole shards (by index), named tensors (keys,
 * as Ray's `pull(keys)`), or, when both are absent, everything. The payload is the covered floats
 * concatenated in the order named.
 */
const selection = {
  shards: z.array(count).min(1).max(1024).optional(),
  keys: z.array(z.string().min(1).max(200)).min(1).max(1024).optional(),
};

export const pullSchema = z.strictObject(selection);
export type PullRequest = z.infer<typeof pullSchema>;

export const pushSchema = z.strictObject({
  ...selection,
  /** Unique per push from one worker; used to recognise retries. */
  pushId: z.string().min(1).max(64),
  /** Every shard's version the gradient was computed from (as the pull returned them). */
  versions: z.array(count).max(1024),
  /** Sync and local mode: the round the gradient (or weight change) belongs to (from the pull). */
  round: count.optional(),
  /**
   * Local mode: the payload is a weight change (the round's weights minus the worker's weights after
   * its inner steps), and this is how many inner steps made it. Absent: the payload is a gradient.
   */
  localSteps: z.number().int().positive().max(100_000).optional(),
  /** Examples in the batch the gradient was computed on. */
  examples: z.number().int().positive().max(1_000_000),
  /** Mean training loss of that batch, before the update. */
  loss: z.number(),
  /** The work unit the batch came from: the push renews its lease. */
  unitId: count.optional(),
  /** Milliseconds the gradient took to compute; lets the hub size this worker's batches. */
  computeMs: z.number().nonnegative().max(3_600_000).optional(),
  /**
   * Async mode: answer with the whole model's weights after this push (`pulled`), which saves the
   * next step's pull round trip (the sync PS's apply_gradients returned the new weights the same way).
   * Sync mode ignores it: a worker pulls there to learn its next round.
   */
  pullAfter: z.boolean().optional(),
  /**
   * The examples behind the push, one `[unitId, offset, count]` per batch (examples [offset,
   * offset + count) of that work unit): one for a gradient, one per inner step, in order, for a
   * weight change. What `--spot-check` recomputes the push from; the counts add up to `examples`.
   */
  batches: z
    .array(z.tuple([count, count, z.number().int().positive()]))
    .min(1)
    .max(MAX_BATCHES_PER_PUSH)
    .optional(),
  /** How `gradient` is encoded: float32 (default) or IEEE half floats (`--compress fp16`). */
  encoding: z.enum(GRADIENT_ENCODINGS).optional(),
  /** The gradient: little-endian floats of `encoding`, the covered floats in order. */
  gradient: binary,
});
export type PushRequest = z.infer<typeof pushSchema>;

export const leaseSchema = z.strictObject({});

/** `check:get`: the known-answer check's weights and examples (see RunConfig.knownAnswer). */
export const checkGetSchema = z.strictObject({});
/** `check:answer`: the gradient the worker's backend computed for the check `checkId`. */
export const checkAnswerSchema = z.strictObject({
  checkId: z.string().min(1).max(64),
  loss: z.number(),
  /** float32 little-endian, the whole model in layout order. */
  gradient: binary,
});
export type CheckAnswerRequest = z.infer<typeof checkAnswerSchema>;
export const completeUnitSchema = z.strictObject({ unitId: count });
export type CompleteUnitRequest = z.infer<typeof completeUnitSchema>;

export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface ShardSpec {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
}

/** What a worker needs to know about the run; sent in reply to `hello`. */
export interface RunConfig {
  readonly mode: TrainingMode;
  readonly model: (typeof MODEL_NAMES)[number];
  readonly params: number;
  /** The parameter layout the hub uses; a worker whose model differs must not push. */
  readonly layout: readonly TensorSpec[];
  readonly shards: readonly ShardSpec[];
  readonly batchSize: number;
  readonly optimizer: string;
  readonly learningRate: number;
  readonly roundTimeoutMs: number;
  /** How the hub asks workers to encode their gradients (the hub takes float32 from any worker). */
  readonly compress: Compression;
  /** Local mode: how workers encode their weight changes (the hub takes float32 from any worker). */
  readonly compressChanges: Compression;
  /** Pushes count only after the worker's backend passed the known-answer check (`check:get`). */
  readonly knownAnswer: boolean;
}

/**
 * Local mode: what one round asks of a worker. It trains the round's weights with its own inner
 * optimizer (the run's optimizer and learning rate) for `steps` batches, or until `trainMs` have
 * passed when that comes first, then pushes its weight change with `localSteps`.
 */
export interface LocalRoundPlan {
  readonly steps: number;
  /** Milliseconds of training the round allows from the moment the pull is answered. */
  readonly trainMs?: number;
}

export type Reply<T> = ({ ok: true } & T) | { ok: false; error: HubErrorBody };

/**
 * `identity`: the volunteer's identity token, to keep (across reconnects, and a browser across page
 * loads) and send with every later hello. It is a secret: whoever shows it inherits its trust.
 */
/** `volunteer`: the public name of the volunteer (/api/status, /api/volunteers), never the token. */
export type HelloReply = Reply<{ workerId: string; identity: string; volunteer: string; config: RunConfig }>;
/** A weight snapshot, as a pull (or a push with `pullAfter`) answers it. */
export interface PulledBody {
  /** Every shard's version at the time of the snapshot. */
  versions: number[];
  globalStep: number;
  /** Sync and local mode: the round a gradient (or change) computed from these weights belongs to. */
  round?: number;
  /** Local mode: these are the round's weights, to be trained locally as the plan says. */
  local?: LocalRoundPlan;
  /** The batch size the hub asks of this worker for its next gradient (`--target-step-ms`). */
  batchSize?: number;
  /** float32 little-endian: the covered floats in order. */
  weights: Binary;
}
export type PullReply = Reply<PulledBody>;
export type PushReply = Reply<{
  globalStep: number;
  staleness: number;
  /** True when this push id had already been received (a retry): it was not applied again. */
  duplicate?: boolean;
  /** The whole model after this push, when the push asked `pullAfter` in async mode. */
  pulled?: PulledBody;
}>;
/** A work unit: training examples [start, start + count), fetched as binary from `url`. */
export interface WorkUnit {
  readonly unitId: number;
  readonly start: number;
  readonly count: number;
  readonly epoch: number;
  readonly url: string;
}
export type LeaseReply = Reply<{ unit: WorkUnit }>;
/** The known-answer check: compute the gradient of `examples` (examplesCodec) at `weights` (float32). */
export type CheckGetReply = Reply<{ checkId: string; weights: Binary; examples: Binary }>;
/** How the worker's gradient compared with the hub's: cosine of the two, and its length over the hub's. */
export type CheckAnswerReply = Reply<{ cosine: number; normRatio: number }>;
export type CompleteUnitReply = Reply<{ epoch: number }>;

export interface ClientToServerEvents {
  hello: (request: HelloRequest, ack: (reply: HelloReply) => void) => void;
  pull: (request: PullRequest, ack: (reply: PullReply) => void) => void;
  push: (request: PushRequest, ack: (reply: PushReply) => void) => void;
  'unit:lease': (request: Record<string, never>, ack: (reply: LeaseReply) => void) => void;
  'unit:complete': (request: CompleteUnitRequest, ack: (reply: CompleteUnitReply) => void) => void;
  'check:get': (request: Record<string, never>, ack: (reply: CheckGetReply) => void) => void;
  'check:answer': (request: CheckAnswerRequest, ack: (reply: CheckAnswerReply) => void) => void;
}

export interface ServerToClientEvents {
  /** A refusal that could not be sent as an ack (unknown event, message without ack callback). */
  'hub:error': (error: HubErrorBody & { event: string }) => void;
}

export const CLIENT_EVENTS = [
  'hello',
  'pull',
  'push',
  'unit:lease',
  'unit:complete',
  'check:get',
  'check:answer',
] as const;
export type ClientEventName = (typeof CLIENT_EVENTS)[number];

/** Path of the HTTP route that serves training examples as binary (see examplesCodec). */
export const EXAMPLES_PATH = '/api/data/train';
