import { readFile } from 'node:fs/promises';

/**
 * WebAssembly memory that holds a shard's parameters and optimizer slots, so that the update rules run
 * as the SIMD kernels of kernels.wat (measured on 1M floats: sgd ~1.7x a Float32Array copy, adam ~2.4x,
 * where the JavaScript loops took 7-18x).
 *
 * One memory per shard, sized once: growing a WebAssembly.Memory detaches its ArrayBuffer, which would
 * empty every Float32Array view of it, so it never grows. Its last region is scratch space for the
 * incoming gradient, which a kernel can only read from inside the memory.
 */

/** The kernels' exports (kernels.wat): pointers are byte offsets into the memory, n counts floats. */
interface KernelExports {
  sgd(p: number, g: number, n: number, lr: number): void;
  momentum(p: number, acc: number, g: number, n: number, lr: number, mu: number): void;
  adam(
    p: number,
    m: number,
    v: number,
    g: number,
    n: number,
    stepSize: number,
    b1: number,
    b2: number,
    invSqrtBias2: number,
    eps: number,
  ): void;
}

/**
 * Compiled once, when this module is first imported, from kernels.wasm: the binary `npm run
 * build:kernels` assembles from kernels.wat (server/wasmKernels.test.ts checks that they agree).
 */
const kernelsModule = await WebAssembly.compile(await readFile(new URL('./kernels.wasm', import.meta.url)));

const PAGE_BYTES = 65_536;
/** Arrays start on 16-byte boundaries, so that the kernels' 4-float loads never straddle two. */
const ALIGN_FLOATS = 4;

/** Which memory a Float32Array lives in, so an update rule can find the memory from its arguments. */
const memoryOfBuffer = new WeakMap<ArrayBufferLike, KernelMemory>();

export class KernelMemory {
  /** `count` arrays of `length` floats each, zeroed; views of this memory. */
  readonly arrays: readonly Float32Array[];
  readonly kernels: KernelExports;
  private readonly scratch: Float32Array;

  /** `count` arrays of `length` floats, plus scratch for a gradient of up to `length` floats. */
  constructor(length: number, count: number) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`array length must be a non-negative integer, got ${length}`);
    }
    const stride = Math.ceil(length / ALIGN_FLOATS) * ALIGN_FLOATS;
    const bytes = stride * (count + 1) * 4;
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE_BYTES)) });
    const instance = new WebAssembly.Instance(kernelsModule, { env: { memory } });
    this.kernels = instance.exports as unknown as KernelExports;
    const view = (k: number) => new Float32Array(memory.buffer, k * stride * 4, length);
    this.arrays = Array.from({ length: count }, (_, k) => view(k));
    this.scratch = view(count);
    memoryOfBuffer.set(memory.buffer, this);
  }

  /** The memory that holds every one of `arrays`, or undefined when they are not all in one. */
  static holding(arrays: readonly Float32Array[]): KernelMemory | undefined {
    const memory = memoryOfBuffer.get(arrays[0].buffer);
    return arrays.every((a) => a.buffer === arrays[0].buffer) ? memory : undefined;
  }

  /** Byte offset of a view of this memory, for the kernels. */
  pointer(array: Float32Array): number {
    return array.byteOffset;
  }

  /** A pointer to `values` inside the memory: copied into the scratch region unless already there. */
  stage(values: Float32Array): number {
    if (memoryOfBuffer.get(values.buffer) === this) return values.byteOffset;
    if (values.length > this.scratch.length) {
      throw new RangeError(`a gradient of ${values.length} floats exceeds the ${this.scratch.length} staged`);
    }
    this.scratch.set(values);
    return this.scratch.byteOffset;
  }
}
