import type { ShardMessage, ShardReplies } from '../actors/ShardActor.js';

/**
 * Shard messages and replies as one binary frame each (one NATS message): a JSON header for
 * everything but the floats, then every Float32Array's raw bytes, in order.
 *
 *   [4 bytes "PSF1"][u32 LE header bytes][header JSON][0-3 bytes padding][float32 blob 0][blob 1]...
 *
 * In the header a Float32Array is `{"$f32": i}` (the i-th blob; lengths in `blobs`), and a number JSON
 * cannot hold (NaN, ±Infinity, -0) is `{"$num": "NaN"}`, so that every value comes back exactly as it
 * was sent. Floats travel as little-endian bytes, as everywhere else in this project (and checkpoints).
 * The codec walks the value generically: a new message type or field needs no change here.
 */

const MAGIC = [0x50, 0x53, 0x46, 0x31]; // "PSF1"
const PREFIX_BYTES = 8;
const F32 = '$f32';
const NUM = '$num';

export type AnyShardReply = ShardReplies[keyof ShardReplies];

/** A reply frame: the actor's answer, or the error it threw (name and message only). */
export type ShardReplyFrame =
  | { readonly ok: true; readonly reply: AnyShardReply }
  | { readonly ok: false; readonly error: { readonly name: string; readonly message: string } };

export class ShardCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardCodecError';
  }
}

interface Header {
  readonly value: unknown;
  /** Length of each blob, in floats. */
  readonly blobs: readonly number[];
}

export function encodeShardMessage(message: ShardMessage): Uint8Array {
  return encodeFrame(message);
}

export function decodeShardMessage(bytes: Uint8Array): ShardMessage {
  const value = decodeFrame(bytes);
  if (!isRecord(value) || typeof value.type !== 'string') {
    throw new ShardCodecError('frame is not a shard message (no type)');
  }
  // The sender is one of our own processes (the gateway validated the worker's input); the actor
  // refuses a message it does not know.
  return value as unknown as ShardMessage;
}

export function encodeShardReply(reply: AnyShardReply): Uint8Array {
  return encodeFrame({ ok: true, reply } satisfies ShardReplyFrame);
}

export function encodeShardError(error: unknown): Uint8Array {
  const frame: ShardReplyFrame = {
    ok: false,
    error:
      error instanceof Error
        ? { name: error.name, message: error.message }
        : { name: 'Error', message: String(error) },
  };
  return encodeFrame(frame);
}

export function decodeShardReplyFrame(bytes: Uint8Array): ShardReplyFrame {
  const value = decodeFrame(bytes);
  if (!isRecord(value) || typeof value.ok !== 'boolean') {
    throw new ShardCodecError('frame is not a shard reply');
  }
  if (value.ok) return value as unknown as ShardReplyFrame;
  const error = value.error;
  if (!isRecord(error) || typeof error.name !== 'string' || typeof error.message !== 'string') {
    throw new ShardCodecError('error reply without a name and message');
  }
  return { ok: false, error: { name: error.name, message: error.message } };
}

/**
 * The Error a remote actor threw, rebuilt: the same class for the standard ones (so `instanceof
 * RangeError` holds as it would in one process), else an Error carrying the remote name.
 */
export function remoteError({ name, message }: { name: string; message: string }): Error {
  const classes: Record<string, ErrorConstructor> = {
    Error,
    RangeError,
    TypeError,
    SyntaxError,
    ReferenceError,
  };
  const error = new (classes[name] ?? Error)(message);
  error.name = name;
  return error;
}

/** Any value made of plain objects, arrays, strings, booleans, null, numbers and Float32Arrays. */
export function encodeFrame(value: unknown): Uint8Array {
  const blobs: Float32Array[] = [];
  const header: Header = { value: toJson(value, blobs, '$'), blobs: blobs.map((b) => b.length) };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const blobsStart = align4(PREFIX_BYTES + json.byteLength);
  const total = blobsStart + blobs.reduce((sum, b) => sum + b.byteLength, 0);
  const frame = new Uint8Array(total);
  frame.set(MAGIC, 0);
  new DataView(frame.buffer).setUint32(4, json.byteLength, true);
  frame.set(json, PREFIX_BYTES);
  let at = blobsStart;
  for (const blob of blobs) {
    // Byte copies: NaN payloads and -0 stay bit-exact.
    frame.set(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength), at);
    at += blob.byteLength;
  }
  return frame;
}

/**
 * The value back. Its Float32Arrays are copies (one buffer for all of them), never views of `bytes`:
 * the transport may reuse its read buffer, and a pulled snapshot is kept by the caller.
 */
export function decodeFrame(bytes: Uint8Array): unknown {
  if (bytes.byteLength < PREFIX_BYTES || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ShardCodecError(`not a shard frame (${bytes.byteLength} bytes, bad magic)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonBytes = view.getUint32(4, true);
  if (PREFIX_BYTES + jsonBytes > bytes.byteLength) throw new ShardCodecError('header runs past the frame');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + jsonBytes)));
  } catch (error) {
    throw new ShardCodecError(`header is not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(header) || !Array.isArray(header.blobs) || !header.blobs.every(isCount)) {
    throw new ShardCodecError('header has no blob table');
  }
  const blobsStart = align4(PREFIX_BYTES + jsonBytes);
  const floats = header.blobs.reduce((sum, n) => sum + n, 0);
  if (blobsStart + floats * 4 !== bytes.byteLength) {
    throw new ShardCodecError(
      `frame has ${bytes.byteLength} bytes; its header says ${blobsStart + floats * 4}`,
    );
  }
  const all = new Float32Array(floats);
  new Uint8Array(all.buffer).set(bytes.subarray(blobsStart));
  const blobs: Float32Array[] = [];
  let at = 0;
  for (const n of header.blobs) {
    blobs.push(all.subarray(at, at + n));
    at += n;
  }
  return fromJson(header.value, blobs);
}

function toJson(value: unknown, blobs: Float32Array[], path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    return Number.isFinite(value) && !Object.is(value, -0)
      ? value
      : { [NUM]: Object.is(value, -0) ? '-0' : String(value) };
  }
  if (value instanceof Float32Array) {
    blobs.push(value);
    return { [F32]: blobs.length - 1 };
  }
  if (Array.isArray(value)) return value.map((item, i) => toJson(item, blobs, `${path}[${i}]`));
  if (isPlainObject(value)) {
    if (F32 in value || NUM in value)
      throw new ShardCodecError(`${path} has a reserved key (${F32} or ${NUM})`);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // As JSON.stringify: an absent optional field is no field.
      if (item !== undefined) out[key] = toJson(item, blobs, `${path}.${key}`);
    }
    return out;
  }
  const kind = value === undefined ? 'undefined' : (value.constructor?.name ?? typeof value);
  throw new ShardCodecError(`${path} is ${kind}: the shard codec carries JSON values and Float32Arrays only`);
}

function fromJson(value: unknown, blobs: readonly Float32Array[]): unknown {
  if (Array.isArray(value)) return value.map((item) => fromJson(item, blobs));
  if (!isRecord(value)) return value;
  if (F32 in value) {
    const index = value[F32];
    if (typeof index !== 'number' || !(index >= 0 && index < blobs.length)) {
      throw new ShardCodecError(
        `blob reference ${String(index)} is outside the frame's ${blobs.length} blobs`,
      );
    }
    return blobs[index];
  }
  if (NUM in value) {
    const text = value[NUM];
    if (text === '-0') return -0;
    if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return Number(text);
    throw new ShardCodecError(`unknown number ${String(text)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = fromJson(item, blobs);
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
