/** Types for build-kernels.mjs (imported by server/wasmKernels.test.ts). */
export const WAT_FILES: readonly string[];
export function wasmPathOf(watPath: string): string;
export function assembleWat(watPath: string): Promise<Uint8Array>;
