import { IMAGE_PIXELS, NUM_CLASSES } from './models.js';

/**
 * The binary form of a batch of MNIST examples sent to workers over HTTP. No Node or DOM APIs: the hub
 * encodes, the browser decodes.
 *
 * Layout (little-endian):
 *   bytes 0..3    format tag EXAMPLES_TAG ("MNX1" in ASCII)
 *   bytes 4..7    uint32 count
 *   then          count * 784 pixel bytes: [count, 28, 28] row-major grey levels 0..255
 *   then          count label bytes: digit classes 0..9
 * Pixels come before labels so that the image block starts at a fixed offset (8).
 */
export const EXAMPLES_TAG = 0x31584e4d; // "MNX1" read as a little-endian uint32
export const EXAMPLES_HEADER_BYTES = 8;

/** A decoded batch. `images` is [count, 784] grey levels 0..255, `labels` is [count] classes 0..9. */
export interface Examples {
  readonly count: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

export type ExamplesErrorCode = 'EXAMPLES_BAD_TAG' | 'EXAMPLES_BAD_LENGTH' | 'EXAMPLES_BAD_LABEL';

export class ExamplesFormatError extends Error {
  constructor(
    readonly code: ExamplesErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ExamplesFormatError';
  }
}

/** The encoded size of `count` examples, in bytes. */
export function encodedExamplesBytes(count: number): number {
  return EXAMPLES_HEADER_BYTES + count * (IMAGE_PIXELS + 1);
}

/** Encodes `labels.length` examples; `images` must hold exactly 784 bytes per label. */
export function encodeExamples(images: Uint8Array, labels: Uint8Array): Uint8Array {
  const count = labels.length;
  if (images.length !== count * IMAGE_PIXELS) {
    throw new ExamplesFormatError(
      'EXAMPLES_BAD_LENGTH',
      `images hold ${images.length} bytes, expected ${count} x ${IMAGE_PIXELS} = ${count * IMAGE_PIXELS}`,
    );
  }
  checkLabels(labels);
  const out = new Uint8Array(encodedExamplesBytes(count));
  const view = new DataView(out.buffer);
  view.setUint32(0, EXAMPLES_TAG, true);
  view.setUint32(4, count, true);
  out.set(images, EXAMPLES_HEADER_BYTES);
  out.set(labels, EXAMPLES_HEADER_BYTES + count * IMAGE_PIXELS);
  return out;
}

/**
 * Decodes and validates a batch. The returned arrays are views into `bytes` (no copy): copy them if
 * the buffer is going to be reused.
 */
export function decodeExamples(bytes: ArrayBuffer | Uint8Array): Examples {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (data.byteLength < EXAMPLES_HEADER_BYTES) {
    throw new ExamplesFormatError(
      'EXAMPLES_BAD_LENGTH',
      `examples payload is ${data.byteLength} bytes, shorter than the ${EXAMPLES_HEADER_BYTES}-byte header`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tag = view.getUint32(0, true);
  if (tag !== EXAMPLES_TAG) {
    throw new ExamplesFormatError(
      'EXAMPLES_BAD_TAG',
      `examples payload has format tag 0x${tag.toString(16)}, expected 0x${EXAMPLES_TAG.toString(16)}`,
    );
  }
  const count = view.getUint32(4, true);
  const expected = encodedExamplesBytes(count);
  if (data.byteLength !== expected) {
    throw new ExamplesFormatError(
      'EXAMPLES_BAD_LENGTH',
      `examples payload is ${data.byteLength} bytes, but ${count} examples need ${expected}`,
    );
  }
  const labelsStart = EXAMPLES_HEADER_BYTES + count * IMAGE_PIXELS;
  const images = data.subarray(EXAMPLES_HEADER_BYTES, labelsStart);
  const labels = data.subarray(labelsStart);
  checkLabels(labels);
  return { count, images, labels };
}

function checkLabels(labels: Uint8Array): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= NUM_CLASSES) {
      throw new ExamplesFormatError(
        'EXAMPLES_BAD_LABEL',
        `label ${i} is ${labels[i]}, expected 0..${NUM_CLASSES - 1}`,
      );
    }
  }
}
