import { mkdtemp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CheckpointCorruptError, decodeCheckpoint, encodeCheckpoint } from './checkpointFormat.js';
import { CheckpointStore } from './CheckpointStore.js';

const sample = () => ({
  header: { step: 7, note: 'ünïcode' },
  blobs: new Map<string, Uint8Array>([
    ['a', new Uint8Array([1, 2, 3])],
    ['b', new Uint8Array(new Float32Array([1.5, -2, Math.PI]).buffer)],
    ['empty', new Uint8Array(0)],
  ]),
});

it('round-trips a header and its blobs', () => {
  const decoded = decodeCheckpoint<{ step: number; note: string }>(encodeCheckpoint(sample()));
  expect(decoded.header).toEqual({ step: 7, note: 'ünïcode' });
  expect([...decoded.blobs.keys()]).toEqual(['a', 'b', 'empty']);
  expect(Array.from(decoded.blobs.get('a')!)).toEqual([1, 2, 3]);
  const b = decoded.blobs.get('b')!;
  expect(Array.from(new Float32Array(b.buffer, b.byteOffset, 3))).toEqual([1.5, -2, Math.fround(Math.PI)]);
});

it.each([
  ['truncated by one byte', (f: Buffer) => f.subarray(0, f.length - 1)],
  ['truncated to half', (f: Buffer) => f.subarray(0, f.length >> 1)],
  ['one byte flipped in a blob', (f: Buffer) => Buffer.from(f).fill(0xff, f.length - 40, f.length - 39)],
  ['one byte flipped in the header', (f: Buffer) => Buffer.from(f).fill(0x20, 14, 15)],
  ['not a checkpoint at all', () => Buffer.from('{"hello": "world"} and some more bytes to be long enough')],
  ['empty', () => Buffer.alloc(0)],
])('detects a damaged file: %s', (_name, damage) => {
  expect(() => decodeCheckpoint(damage(encodeCheckpoint(sample())))).toThrow(CheckpointCorruptError);
});

it('a store keeps the newest N, and loads the newest that passes its checks, naming those that did not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
  const store = new CheckpointStore(dir, 3);
  for (let step = 1; step <= 5; step++) {
    await store.write({ header: { step }, blobs: new Map([['w', new Uint8Array(100).fill(step)]]) }, step);
  }
  const files = await store.list();
  expect(files).toHaveLength(3);
  expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  const decode = (c: { header: unknown }) => (c.header as { step: number }).step;
  expect((await store.loadNewest(decode)).checkpoint?.value).toBe(5);

  await truncate(files[0], 50);
  const afterTruncation = await store.loadNewest(decode);
  expect(afterTruncation.checkpoint).toMatchObject({ value: 4, file: files[1] });
  expect(afterTruncation.skipped).toEqual([{ file: files[0], reason: expect.stringMatching(/checksum|truncated/) }]);

  await writeFile(files[1], (await readFile(files[1])).fill(0, 200, 210));
  expect((await store.loadNewest(decode)).checkpoint?.value).toBe(3);
});

it('an empty or missing folder has no checkpoint', async () => {
  const store = new CheckpointStore(join(tmpdir(), 'no-such-folder-for-checkpoints'), 3);
  expect(await store.loadNewest(() => 1)).toEqual({ checkpoint: null, skipped: [] });
});
