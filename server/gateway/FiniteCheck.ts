import { readFile } from 'node:fs/promises';
import { firstNonFinite } from '../../shared/floatCodec.js';

/** The kernel's export (finiteCheck.wat): `pointer` is a byte offset into the memory, `n` counts floats. */
interface ScanExports {
  firstNonFinite(pointer: number, n: number): number;
}

/**
 * Compiled once, when this module is first imported, from finiteCheck.wasm: the binary `npm run
 * build:kernels` assembles from finiteCheck.wat (server/wasmKernels.test.ts checks that they agree).
 */
const scanModule = await WebAssembly.compile(await readFile(new URL('./finiteCheck.wasm', import.meta.url)));

const PAGE_BYTES = 65_536;

/**
 * The gateway's check that every value of a push is finite, as the WebAssembly SIMD scan of
 * finiteCheck.wat: a kernel reads only its own memory, so the values are copied in first (one memcpy,
 * ~0.1 ms per 1M floats), and the scan of the copy takes ~0.1 ms more, where `firstNonFinite` of
 * shared/floatCodec.ts took ~1.2 ms on this machine (each push waits for it before its ack).
 *
 * One memory for the gateway, sized once for the largest push it accepts (the whole model); a longer
 * array is checked by the JavaScript loop instead. Not re-entrant, and need not be: a check runs to
 * its end in one turn of the event loop.
 */
export class FiniteCheck {
  private readonly scan: ScanExports['firstNonFinite'];
  /** A view of the whole memory: the values are copied to its start. */
  private readonly scratch: Float32Array;

  /** `capacity`: the most floats one check copies into the kernel's memory. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    }
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((capacity * 4) / PAGE_BYTES)) });
    const instance = new WebAssembly.Instance(scanModule, { env: { memory } });
    this.scan = (instance.exports as unknown as ScanExports).firstNonFinite;
    this.scratch = new Float32Array(memory.buffer, 0, capacity);
  }

  /** Index of the first NaN or ±Infinity in `values`, or -1 when every value is finite. */
  firstNonFinite(values: Float32Array): number {
    if (values.length > this.scratch.length) return firstNonFinite(values);
    this.scratch.set(values);
    return this.scan(this.scratch.byteOffset, values.length);
  }
}
