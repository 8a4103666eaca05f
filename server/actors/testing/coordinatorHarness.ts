// Test support for Coordinator.test.ts and Coordinator.churn.test.ts: real shard actors and a real
// UnitPool behind a Coordinator, shard refs that answer when a test says so, and the push / weights /
// promise helpers both files use. Test-only code; no vitest here, so a caller passes its own cleanup.

import { HubError } from '../../../shared/errors.js';
import { layoutFromShapes, shardRanges } from '../../../shared/layout.js';
import type { TrainingMode } from '../../../shared/protocol.js';
import { mulberry32 } from '../../../shared/random.js';
import { UnitPool } from '../../data/UnitPool.js';
import { resolveSelection, splitByShard } from '../../gateway/selection.js';
import { createUpdateRule } from '../../optimizers/updateRules.js';
import { Coordinator, type CoordinatorOptions, type GradientPush } from '../Coordinator.js';
import { ShardActor, type ShardMessage, type ShardReply } from '../ShardActor.js';
import type { ShardRef } from '../ShardRef.js';

/** Floats in the model: one tensor `w`, [TOTAL] float32, cut into SHARDS shards. */
export const TOTAL = 12;
const SHARDS = 3;
/** The coordinator's round deadline in the tests, ms. */
export const TIMEOUT_MS = 1000;
const UNIT_OPTIONS = { totalExamples: 95, unitSize: 10, seed: 7 };

const layout = layoutFromShapes([{ name: 'w', shape: [TOTAL] }]);
export const ranges = shardRanges(TOTAL, SHARDS);
const everything = resolveSelection({}, layout, ranges);

/**
 * When a test shard handles a message. `now`: as it is sent, like LocalShardRef. `nextMacrotask`:
 * on a later macrotask (setImmediate), in order: a shard in another process, with real timers.
 * `onDeliver`: the message waits in a mailbox and is handled, in the order sent (as an actor's are),
 * one per `deliver()`, so the test decides when, and in which order across shards, shards answer.
 */
export type ShardTiming = 'now' | 'nextMacrotask' | 'onDeliver';

/** Sees each message as the coordinator sends it, before the shard handles it. */
export type AskListener = (shard: number, message: ShardMessage) => void;
/** Sees each message once the shard has handled it, with the shard's reply. */
export type HandleListener = (shard: number, message: ShardMessage, reply: unknown) => void;

/** A shard reached by message, answering as `timing` says. */
export class TestShardRef implements ShardRef {
  private readonly mailbox: (() => void)[] = [];

  constructor(
    private actor: ShardActor,
    private readonly timing: ShardTiming,
    private readonly onAsk?: AskListener,
    private readonly onHandle?: HandleListener,
  ) {}

  get index(): number {
    return this.actor.index;
  }

  /** Messages waiting for `deliver()` (always 0 unless `onDeliver`). */
  get waiting(): number {
    return this.mailbox.length;
  }

  ask<M extends ShardMessage>(message: M): Promise<ShardReply<M>> {
    this.onAsk?.(this.actor.index, message);
    return new Promise((resolve, reject) => {
      const handle = () => {
        try {
          const reply = this.actor.receive(message);
          this.onHandle?.(this.actor.index, message, reply);
          resolve(reply);
        } catch (error) {
          reject(error);
        }
      };
      if (this.timing === 'onDeliver') this.mailbox.push(handle);
      else if (this.timing === 'nextMacrotask') setImmediate(handle);
      else handle();
    });
  }

  /** The shard's process restarted: `actor` (say, restored from an older checkpoint) answers from now on. */
  restart(actor: ShardActor): void {
    this.actor = actor;
  }

  /** Handles the oldest waiting message. */
  deliver(): void {
    this.mailbox.shift()?.();
  }
}

export interface Hub {
  readonly coordinator: Coordinator;
  readonly actors: ShardActor[];
  /** The coordinator's way to each actor, in shard order. */
  readonly refs: TestShardRef[];
  readonly units: UnitPool;
}

/** Coordinator options a test may add to the defaults of makeHub, and how the shards answer. */
export type HubOptions = Partial<Omit<CoordinatorOptions, 'mode' | 'shards' | 'units'>> & {
  /** Default `now`. */
  readonly shardTiming?: ShardTiming;
  readonly onAsk?: AskListener;
  readonly onHandle?: HandleListener;
};

/**
 * Real shard actors (sgd, learning rate 1, zero initial weights) and a real UnitPool. With sgd and
 * rate 1 the weights are always minus the sum of lr scale x the applied gradients, in both modes
 * (sync applies mean x count).
 */
export function makeHub(mode: TrainingMode, options: HubOptions = {}): Hub {
  const { shardTiming = 'now', onAsk, onHandle, ...extra } = options;
  const actors = ranges.map(
    (r) =>
      new ShardActor({
        index: r.index,
        offset: r.offset,
        initialWeights: new Float32Array(r.length),
        rule: createUpdateRule('sgd'),
        learningRate: 1,
      }),
  );
  const refs = actors.map((a) => new TestShardRef(a, shardTiming, onAsk, onHandle));
  const units = new UnitPool(UNIT_OPTIONS);
  const coordinator = new Coordinator({ mode, shards: refs, units, roundTimeoutMs: TIMEOUT_MS, ...extra });
  return { coordinator, actors, refs, units };
}

export function weightsOf(hub: Hub): number[] {
  return hub.actors.flatMap((a) => Array.from(a.receive({ type: 'pull' }).weights));
}

export function versionsOf(hub: Hub): number[] {
  return hub.actors.map((a) => a.receive({ type: 'status' }).version);
}

/** [TOTAL] float32 of small integers: sums are exact in float32, so weights compare with toEqual. */
export function gradient(seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: TOTAL }, () => Math.floor(random() * 7) - 3);
}

/** Who sent a gradient buffer: lets a shard listener name the push behind each message. */
export interface PushTag {
  readonly pushId: string;
  readonly worker: string;
  /** The push's index in a fuzz's list, when it said. */
  readonly index?: number;
}

const pushTags = new WeakMap<ArrayBufferLike, PushTag>();

/** The push a gradient piece came from (the tag of its payload buffer). */
export function pushTagOf(values: Float32Array): PushTag | undefined {
  return pushTags.get(values.buffer);
}

let pushCounter = 0;

export interface PushOptions {
  round?: number;
  examples?: number;
  loss?: number;
  versions?: readonly number[];
  /** Default all: then the payload is `g` itself, else a copy of the shards' floats. */
  shards?: readonly number[];
  pushId?: string;
  computeMs?: number;
  /** For a shard listener only: the worker the push is sent as. */
  worker?: string;
  /** For a shard listener only: the index of this push in the fuzz's list. */
  index?: number;
}

/** A push of `g` (a full-length gradient), restricted to `options.shards`. */
export function push(g: Float32Array, options: PushOptions = {}): GradientPush {
  const selection = options.shards
    ? resolveSelection({ shards: options.shards }, layout, ranges)
    : everything;
  let payload = g;
  if (options.shards)
    payload = Float32Array.from(
      selection.ranges.flatMap((r) => [...g.subarray(r.offset, r.offset + r.length)]),
    );
  const pushId = options.pushId ?? `push-${++pushCounter}`;
  pushTags.set(payload.buffer, { pushId, worker: options.worker ?? '?', index: options.index });
  return {
    piecesByShard: splitByShard(selection, payload, ranges),
    versions: options.versions ?? ranges.map(() => 0),
    round: options.round,
    examples: options.examples ?? 10,
    loss: options.loss ?? 1,
    pushId,
    computeMs: options.computeMs,
  };
}

/** Lets every pending promise continuation run (shard replies, round closes). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await Promise.resolve();
}

/** A promise watched without awaiting it: 'pending' until it settles. */
export interface Tracked<T> {
  state: 'pending' | 'resolved' | 'rejected';
  value?: T;
  error?: unknown;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { state: 'pending' };
  promise.then(
    (value) => Object.assign(tracked, { state: 'resolved', value }),
    (error: unknown) => Object.assign(tracked, { state: 'rejected', error }),
  );
  return tracked;
}

/** Lets every shard answer everything it was asked (`onDeliver`), in shard order. */
export async function deliverAll(hub: Hub): Promise<void> {
  do {
    for (const ref of hub.refs) ref.deliver();
    await flush();
  } while (hub.refs.some((r) => r.waiting > 0));
}

/** Lets one shard with a waiting message, chosen by `pick`, answer it; false when none waits. */
export async function deliverOne(hub: Hub, pick: <T>(xs: readonly T[]) => T): Promise<boolean> {
  const busy = hub.refs.filter((r) => r.waiting > 0);
  if (busy.length === 0) return false;
  pick(busy).deliver();
  await flush();
  return true;
}

/** The HubError code a promise rejects with; undefined when it resolves. */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HubError) return error.code;
    throw error;
  }
  return undefined;
}

export function codeOfError(error: unknown): string {
  return error instanceof HubError ? error.code : String(error);
}

/** -xs, without -0 (toEqual tells 0 and -0 apart). */
export const neg = (xs: ArrayLike<number>) => Array.from(xs, (x) => (x === 0 ? 0 : -x));

/** Picks one element with `random` (one draw per call). */
export const picker =
  (random: () => number) =>
  <T>(xs: readonly T[]): T =>
    xs[Math.floor(random() * xs.length)];

/** A fuzz's assertion: cheaper than expect in a loop of thousands, and its message says where. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** Runs a fuzz step's checks; a failure also lists the last operations that led to it. */
export function checkAfter(history: readonly string[], checks: () => void): void {
  try {
    checks();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n  after: ${history.slice(-12).join('\n         ')}`, {
      cause: error,
    });
  }
}

/** Seeds 1..count. */
export const seedRange = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

/**
 * Runs `once` for every seed; a failure names the seed and where to keep it. `cleanup` runs after
 * each seed, passed or failed (e.g. clearing fake timers).
 */
export async function runSeeds(
  name: string,
  seeds: Iterable<number>,
  once: (seed: number) => Promise<void>,
  cleanup?: () => void,
): Promise<void> {
  for (const seed of seeds) {
    try {
      await once(seed);
    } catch (error) {
      throw new Error(
        `${name} failed with seed ${seed} (keep it in fuzz-regressions/coordinatorSeeds.ts): ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      cleanup?.();
    }
  }
}
