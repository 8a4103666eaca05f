import { describe, expect, it } from 'vitest';

import {
  EXAMPLES_HEADER_BYTES,
  EXAMPLES_TAG,
  ExamplesFormatError,
  decodeExamples,
  encodeExamples,
  encodedExamplesBytes,
} from './examplesCodec.js';
import { IMAGE_PIXELS } from './models.js';

/** Deterministic pseudo-random examples (seeded LCG) so failures reproduce. */
function makeExamples(count: number, seed = 1): { images: Uint8Array; labels: Uint8Array } {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state >>> 24;
  };
  const images = new Uint8Array(count * IMAGE_PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = next();
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = next() % 10;
  return { images, labels };
}

function expectError(fn: () => unknown, code: string): ExamplesFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ExamplesFormatError);
  const err = caught as ExamplesFormatError;
  expect(err.name).toBe('ExamplesFormatError');
  expect(err.code).toBe(code);
  return err;
}

describe('examples codec', () => {
  it('round-trips a batch exactly, with the documented layout', () => {
    const { images, labels } = makeExamples(37, 42);
    const bytes = encodeExamples(images, labels);
    expect(bytes.byteLength).toBe(8 + 37 * 785);
    expect(bytes.byteLength).toBe(encodedExamplesBytes(37));
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(0, true)).toBe(EXAMPLES_TAG);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('MNX1');
    expect(view.getUint32(4, true)).toBe(37);
    expect(bytes[EXAMPLES_HEADER_BYTES]).toBe(images[0]);
    expect(bytes[EXAMPLES_HEADER_BYTES + 37 * IMAGE_PIXELS]).toBe(labels[0]);

    const decoded = decodeExamples(bytes);
    expect(decoded.count).toBe(37);
    expect(decoded.images).toEqual(images);
    expect(decoded.labels).toEqual(labels);
  });

  it('decodes an ArrayBuffer and a Uint8Array view at a non-zero offset', () => {
    const { images, labels } = makeExamples(5, 7);
    const bytes = encodeExamples(images, labels);
    const fromBuffer = decodeExamples(bytes.slice().buffer);
    expect(fromBuffer.labels).toEqual(labels);

    // As a socket or fetch layer might hand it over: a view into a larger buffer.
    const padded = new Uint8Array(bytes.byteLength + 13);
    padded.set(bytes, 3);
    const fromView = decodeExamples(padded.subarray(3, 3 + bytes.byteLength));
    expect(fromView.count).toBe(5);
    expect(fromView.images).toEqual(images);
    expect(fromView.labels).toEqual(labels);
  });

  it('round-trips an empty batch', () => {
    const decoded = decodeExamples(encodeExamples(new Uint8Array(0), new Uint8Array(0)));
    expect(decoded.count).toBe(0);
    expect(decoded.images.length).toBe(0);
  });

  it('rejects a wrong format tag', () => {
    const { images, labels } = makeExamples(2);
    const bytes = encodeExamples(images, labels);
    bytes[0] ^= 0xff;
    expectError(() => decodeExamples(bytes), 'EXAMPLES_BAD_TAG');
  });

  it('rejects payloads shorter than the header', () => {
    expectError(() => decodeExamples(new Uint8Array(0)), 'EXAMPLES_BAD_LENGTH');
    expectError(() => decodeExamples(new Uint8Array(7)), 'EXAMPLES_BAD_LENGTH');
  });

  it('rejects a truncated payload and one with trailing bytes', () => {
    const { images, labels } = makeExamples(3);
    const bytes = encodeExamples(images, labels);
    expectError(() => decodeExamples(bytes.subarray(0, bytes.length - 1)), 'EXAMPLES_BAD_LENGTH');
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expectError(() => decodeExamples(longer), 'EXAMPLES_BAD_LENGTH');
  });

  it('rejects a count that disagrees with the length (including a huge count)', () => {
    const { images, labels } = makeExamples(3);
    const bytes = encodeExamples(images, labels);
    new DataView(bytes.buffer).setUint32(4, 4, true);
    expectError(() => decodeExamples(bytes), 'EXAMPLES_BAD_LENGTH');
    new DataView(bytes.buffer).setUint32(4, 0xffffffff, true);
    expectError(() => decodeExamples(bytes), 'EXAMPLES_BAD_LENGTH');
  });

  it('rejects a label outside 0..9 when decoding', () => {
    const { images, labels } = makeExamples(4);
    const bytes = encodeExamples(images, labels);
    bytes[bytes.length - 2] = 10;
    const err = expectError(() => decodeExamples(bytes), 'EXAMPLES_BAD_LABEL');
    expect(err.message).toContain('label 2 is 10');
  });

  it('refuses to encode inconsistent inputs', () => {
    const { images, labels } = makeExamples(4);
    expectError(() => encodeExamples(images.subarray(1), labels), 'EXAMPLES_BAD_LENGTH');
    expectError(() => encodeExamples(images, labels.subarray(1)), 'EXAMPLES_BAD_LENGTH');
    const bad = labels.slice();
    bad[0] = 255;
    expectError(() => encodeExamples(images, bad), 'EXAMPLES_BAD_LABEL');
  });
});
