import { createHash } from 'node:crypto';

/**
 * A checkpoint file: `MAGIC`, a uint32 header length, a JSON header, the binary blobs it indexes, and
 * a sha256 of everything before it. A truncated or altered file fails the length or checksum check.
 *
 *   [8 bytes "VTCKPT01"][u32 LE header bytes][header JSON][blob 0][blob 1]...[32 bytes sha256]
 */
const MAGIC = Buffer.from('VTCKPT01', 'ascii');
const CHECKSUM_BYTES = 32;

export class CheckpointCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointCorruptError';
  }
}

export interface EncodedCheckpoint<H> {
  /** JSON-safe metadata. */
  readonly header: H;
  /**
   * Its place in its folder's order (CheckpointStore): 1, 2, 3, ... in the order written, whatever
   * the wall clock says. Absent in files written before sequence numbers.
   */
  readonly sequence?: number;
  /** Named binary parts (weights, optimizer slots), each stored as raw bytes. */
  readonly blobs: ReadonlyMap<string, Uint8Array>;
}

interface BlobEntry {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

export function encodeCheckpoint<H>({ header, blobs, sequence }: EncodedCheckpoint<H>): Buffer {
  const entries: BlobEntry[] = [];
  let offset = 0;
  for (const [name, bytes] of blobs) {
    entries.push({ name, offset, length: bytes.byteLength });
    offset += bytes.byteLength;
  }
  const headerBytes = Buffer.from(JSON.stringify({ header, blobs: entries, sequence }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headerBytes.byteLength);
  const parts = [MAGIC, length, headerBytes, ...[...blobs.values()].map(asBuffer)];
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

export function decodeCheckpoint<H>(file: Buffer): EncodedCheckpoint<H> {
  if (file.byteLength < MAGIC.byteLength + 4 + CHECKSUM_BYTES) {
    throw new CheckpointCorruptError(`only ${file.byteLength} bytes: truncated`);
  }
  if (!file.subarray(0, MAGIC.byteLength).equals(MAGIC)) {
    throw new CheckpointCorruptError('not a checkpoint file (bad magic)');
  }
  const body = file.subarray(0, file.byteLength - CHECKSUM_BYTES);
  const expected = file.subarray(file.byteLength - CHECKSUM_BYTES);
  if (!createHash('sha256').update(body).digest().equals(expected)) {
    throw new CheckpointCorruptError('checksum mismatch: the file is truncated or damaged');
  }
  const headerLength = body.readUInt32LE(MAGIC.byteLength);
  const headerStart = MAGIC.byteLength + 4;
  const blobsStart = headerStart + headerLength;
  if (blobsStart > body.byteLength) throw new CheckpointCorruptError('header runs past the end of the file');
  const parsed = JSON.parse(body.subarray(headerStart, blobsStart).toString('utf8')) as {
    header: H;
    blobs: BlobEntry[];
    sequence?: number;
  };
  const blobs = new Map<string, Uint8Array>();
  for (const entry of parsed.blobs) {
    const start = blobsStart + entry.offset;
    if (start + entry.length > body.byteLength) {
      throw new CheckpointCorruptError(`blob ${entry.name} runs past the end of the file`);
    }
    // A copy: Float32Array views need 4-byte alignment, which a slice of the file does not promise.
    blobs.set(entry.name, new Uint8Array(body.subarray(start, start + entry.length)));
  }
  return { header: parsed.header, blobs, sequence: parsed.sequence };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
