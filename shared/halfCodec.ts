import { getFloat16, setFloat16 } from '@petamoriken/float16';
import type { Binary } from './floatCodec.js';

/**
 * `--compress fp16`: a gradient travels as IEEE half floats, half the bytes of float32. Rounding is
 * the library's (round to nearest even, subnormals, ±Infinity for what is too large); decoding goes
 * through a table of all 65,536 halves, one lookup a float.
 */
export function floatsToHalfBytes(floats: Float32Array): Uint8Array {
  const bytes = new Uint8Array(floats.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < floats.length; i++) setFloat16(view, i * 2, floats[i], true);
  return bytes;
}

export function halfBytesToFloats(bytes: Binary): Float32Array {
  if (bytes.byteLength % 2 !== 0)
    throw new RangeError(`byte length ${bytes.byteLength} is not a multiple of 2`);
  const source = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  const table = halfTable();
  const out = new Float32Array(source.byteLength / 2);
  for (let i = 0, b = 0; i < out.length; i++, b += 2) out[i] = table[source[b] | (source[b + 1] << 8)];
  return out;
}

let table: Float32Array | null = null;

/** Every half's float32 value, by its little-endian bit pattern. */
function halfTable(): Float32Array {
  if (table) return table;
  const view = new DataView(new ArrayBuffer(2));
  table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    view.setUint16(0, bits, true);
    table[bits] = getFloat16(view, 0, true);
  }
  return table;
}
