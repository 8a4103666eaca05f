import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { mulberry32 } from '../../shared/random.js';

/** What a broken or malicious client sends, one message of it. */
export type HostileMessage =
  /** A socket.io event, with or without an ack callback. */
  | {
      readonly kind: HostileKind;
      readonly event: string;
      readonly args: readonly unknown[];
      readonly ack: boolean;
    }
  /** A frame below socket.io: bytes or text that are not a socket.io packet at all. */
  | { readonly kind: 'raw-frame'; readonly frame: string | Uint8Array }
  /** Many pulls at once, without waiting: a flood. */
  | { readonly kind: 'flood'; readonly count: number };

export type HostileKind =
  | 'unknown-event'
  | 'wrong-types'
  | 'random-bytes'
  | 'oversized'
  | 'truncated'
  | 'non-finite'
  | 'huge-norm'
  | 'wrong-shard'
  | 'wrong-key'
  | 'wrong-versions'
  | 'wrong-unit'
  | 'wrong-protocol'
  | 'no-ack'
  // Well-formed lies: each passes the schema and every shape check.
  | 'future-version'
  | 'inflated-examples'
  | 'batches-mismatch'
  | 'plausible-wrong'
  | 'forged-identity'
  | 'unknown-check';

/** What the hub told the client so far: the catalogue makes messages that look right in most ways. */
export interface HostileContext {
  readonly params: number;
  readonly shards: number;
  readonly versions: readonly number[];
  /** Work units of an epoch: a plausible lie names a real one. */
  readonly units: number;
}

/**
 * A deterministic stream of hostile messages (random bytes, wrong types, oversized, truncated,
 * NaN/Inf, huge norms, wrong shard/version/ids, unknown events, raw frames, floods) and, with `lies`,
 * well-formed lies (versions from the future, inflated example counts, batches that do not add up,
 * gradients of an honest size that are not what they claim, forged identities, answers to checks
 * never given). `huge-norm` and `plausible-wrong` are the kinds that can be accepted: only the hub's
 * screen stands between the first and the weights, only its spot checks between the second and the
 * volunteer's trust. `hugeNorms: false` and `lies: false` leave them out.
 */
export class HostileMessages {
  private readonly float: () => number;

  constructor(
    seed: number,
    private readonly options: {
      readonly hugeNorms: boolean;
      readonly floods: boolean;
      readonly lies?: boolean;
    },
  ) {
    this.float = mulberry32(seed);
  }

  next(context: HostileContext): HostileMessage {
    const kinds = this.kinds();
    const kind = kinds[this.int(kinds.length)];
    switch (kind) {
      case 'raw-frame':
        return { kind, frame: this.chance(0.5) ? this.garbageText() : this.bytes(1 + this.int(64)) };
      case 'flood':
        return { kind, count: 250 + this.int(100) };
      default:
        return { kind, ...this.event(kind, context) };
    }
  }

  private kinds(): readonly (HostileKind | 'raw-frame' | 'flood')[] {
    const kinds: (HostileKind | 'raw-frame' | 'flood')[] = [
      'unknown-event',
      'wrong-types',
      'random-bytes',
      'oversized',
      'truncated',
      'non-finite',
      'wrong-shard',
      'wrong-key',
      'wrong-versions',
      'wrong-unit',
      'wrong-protocol',
      'no-ack',
      'raw-frame',
    ];
    if (this.options.hugeNorms) kinds.push('huge-norm');
    if (this.options.lies) {
      kinds.push(
        'future-version',
        'inflated-examples',
        'batches-mismatch',
        'plausible-wrong',
        'forged-identity',
        'unknown-check',
      );
    }
    // Floods are rare: one is a few hundred messages.
    if (this.options.floods && this.chance(0.05)) kinds.push('flood');
    return kinds;
  }

  private event(
    kind: HostileKind,
    { params, shards, versions, units }: HostileContext,
  ): { event: string; args: unknown[]; ack: boolean } {
    const push = (fields: Record<string, unknown>) => ({
      event: 'push',
      args: [
        {
          pushId: `hostile-${this.int(1e9)}`,
          versions: [...versions],
          examples: 1 + this.int(64),
          loss: this.float() * 3,
          gradient: this.floats(params),
          ...fields,
        },
      ],
      ack: true,
    });
    switch (kind) {
      case 'unknown-event':
        return {
          event: this.pick(['steal', 'weights', 'admin', 'hub:error', 'pull ', 'PUSH', 'x'.repeat(300)]),
          args: [{}],
          ack: true,
        };
      case 'wrong-types':
        return {
          event: this.pick(['hello', 'pull', 'push', 'unit:lease', 'unit:complete']),
          args: [
            this.pick<unknown>([
              null,
              42,
              'text',
              [],
              [1, 2],
              true,
              { shards: 'all' },
              { versions: {} },
              { protocolVersion: '1' },
            ]),
          ],
          ack: true,
        };
      case 'random-bytes':
        return this.chance(0.5)
          ? { event: this.pick(['hello', 'pull', 'push']), args: [this.bytes(1 + this.int(4096))], ack: true }
          : push({ gradient: this.bytes(1 + this.int(params * 4)) });
      case 'oversized':
        return push({ gradient: new Uint8Array(params * 4 + 4 * (1 + this.int(1024))) });
      case 'truncated':
        return push({ gradient: this.bytes(Math.max(1, params * 4 - 1 - this.int(params * 4 - 1))) });
      case 'non-finite': {
        const g = this.floatArray(params);
        g[this.int(params)] = this.pick([NaN, Infinity, -Infinity]);
        return push({ gradient: new Uint8Array(g.buffer) });
      }
      case 'huge-norm':
        return push({ gradient: new Uint8Array(this.floatArray(params, 1e30).buffer) });
      case 'wrong-shard':
        return this.chance(0.5)
          ? { event: 'pull', args: [{ shards: [shards + this.int(100)] }], ack: true }
          : push({ shards: [0, 0], gradient: this.floats(params) });
      case 'wrong-key':
        return {
          event: 'pull',
          args: [{ keys: [this.pick(['nope', 'dense1/kernel ', '../etc', ''])] }],
          ack: true,
        };
      case 'wrong-versions':
        return push({
          versions: this.pick([[], [...versions, 0], versions.map(() => -1), versions.map(() => 1.5)]),
        });
      case 'wrong-unit':
        return { event: 'unit:complete', args: [{ unitId: this.int(1e6) }], ack: true };
      case 'wrong-protocol':
        return {
          event: 'hello',
          args: [{ protocolVersion: PROTOCOL_VERSION + 1 + this.int(100), backend: 'hostile' }],
          ack: true,
        };
      case 'no-ack':
        return { event: this.pick(['push', 'pull', 'nonsense']), args: [{ nonsense: true }], ack: false };
      case 'future-version':
        return push({
          versions: versions.map((v, i) => (i === 0 || this.chance(0.5) ? v + 1 + this.int(1e6) : v)),
          gradient: this.honestSized(params),
        });
      case 'inflated-examples':
        return push({ examples: 1_000 + this.int(999_000), gradient: this.honestSized(params) });
      case 'batches-mismatch': {
        const examples = 1 + this.int(64);
        return push({
          examples,
          batches: [[this.int(units), 0, examples + 1 + this.int(10)]],
          gradient: this.honestSized(params),
        });
      }
      case 'plausible-wrong': {
        // The size of an honest gradient, naming a real unit's examples: no norm screen can tell.
        const examples = 1 + this.int(64);
        return push({
          examples,
          batches: [[this.int(units), 0, examples]],
          gradient: this.honestSized(params),
        });
      }
      case 'forged-identity':
        return {
          event: 'hello',
          args: [
            {
              protocolVersion: PROTOCOL_VERSION,
              backend: 'hostile',
              identity: `forged${this.int(1e9)}`.padEnd(22, 'x'),
            },
          ],
          ack: true,
        };
      case 'unknown-check':
        return {
          event: 'check:answer',
          args: [{ checkId: `made-up-${this.int(1e6)}`, loss: 1, gradient: this.honestSized(params) }],
          ack: true,
        };
    }
  }

  private garbageText(): string {
    return this.pick([
      'garbage',
      '9',
      '2["push"',
      '42[',
      '4{"a":1}',
      '51-["push",{"_placeholder":true}]',
      '\u0000',
    ]);
  }

  /** float32 values in [-scale, scale). */
  private floatArray(count: number, scale = 1): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = (this.float() * 2 - 1) * scale;
    return out;
  }

  /** Random floats at about an honest cnn gradient's norm (0.1-1 over ~6,000 values). */
  private honestSized(count: number): Uint8Array {
    return new Uint8Array(this.floatArray(count, 0.01).buffer);
  }

  /** The same, as the bytes of a message. */
  private floats(count: number): Uint8Array {
    return new Uint8Array(this.floatArray(count).buffer);
  }

  private bytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.int(256);
    return out;
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  private chance(p: number): boolean {
    return this.float() < p;
  }

  private int(below: number): number {
    return Math.floor(this.float() * below);
  }
}
