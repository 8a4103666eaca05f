import { copyFile, mkdtemp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
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

afterEach(() => {
  vi.restoreAllMocks();
});

const stepOf = (c: { header: unknown }) => (c.header as { step: number }).step;
const stepCheckpoint = (step: number) => ({ header: { step }, blobs: new Map([['w', new Uint8Array(8).fill(step)]]) });

it('orders by the sequence the files carry, not the wall clock: a clock that steps back changes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-clock-'));
  const store = new CheckpointStore(dir, 3);
  // Each write an hour earlier than the one before (NTP stepping back, a VM restored from a snapshot).
  let clock = Date.UTC(2030, 0, 1);
  vi.spyOn(Date, 'now').mockImplementation(() => (clock -= 3_600_000));
  for (let step = 1; step <= 5; step++) await store.write(stepCheckpoint(step), step);
  // Pruning kept the newest three, and resume takes the newest.
  expect((await store.loadNewest(stepOf)).checkpoint?.value).toBe(5);
  expect(await Promise.all((await store.list()).map(async (f) => stepOf(decodeCheckpoint(await readFile(f)))))).toEqual([5, 4, 3]);
  // A restarted process goes on from the highest sequence in the folder.
  const restarted = new CheckpointStore(dir, 3);
  await restarted.write(stepCheckpoint(6), 6);
  expect((await restarted.loadNewest(stepOf)).checkpoint?.value).toBe(6);
  expect(decodeCheckpoint(await readFile((await restarted.list())[0])).sequence).toBe(6);
});

it('a file whose name claims a later sequence than it carries (renamed, copied in) is skipped by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-renamed-'));
  const store = new CheckpointStore(dir, 5);
  await store.write(stepCheckpoint(1), 1);
  await store.write(stepCheckpoint(2), 2);
  const [newest, older] = await store.list();
  await copyFile(older, join(dir, 'checkpoint-s000000000099-step1.ckpt'));
  const loaded = await store.loadNewest(stepOf);
  expect(loaded.checkpoint).toEqual({ value: 2, file: newest });
  expect(loaded.skipped).toEqual([{ file: join(dir, 'checkpoint-s000000000099-step1.ckpt'), reason: expect.stringMatching(/renamed/) }]);
});

it('files named by time (before sequence numbers) still resume, as older than any numbered file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-legacy-'));
  await writeFile(join(dir, 'checkpoint-001700000000000-0000-step7.ckpt'), encodeCheckpoint(stepCheckpoint(7)));
  const store = new CheckpointStore(dir, 3);
  expect((await store.loadNewest(stepOf)).checkpoint?.value).toBe(7);
  await store.write(stepCheckpoint(8), 8);
  expect((await store.loadNewest(stepOf)).checkpoint?.value).toBe(8);
});
