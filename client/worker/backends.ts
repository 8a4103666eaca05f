import * as tf from '@tensorflow/tfjs';
// The wasm binaries go through Vite as assets (hashed names in the build, node_modules in dev), so the
// page loads exactly the files of the installed tfjs-backend-wasm; setWasmPaths takes the map below.
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { registerWasmConv2DBackpropFilter } from '../../shared/tf/wasmConv2DBackpropFilter.js';

/** The TF.js backends a tab can train on, in the order tried when nothing was measured. */
export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

/** `?backend=webgpu|webgl|wasm|cpu|auto` (default auto); anything else is an error shown on the page. */
export function backendChoiceFromQuery(search: string): BackendChoice {
  const value = new URLSearchParams(search).get('backend');
  if (value === null || value === '' || value === 'auto') return 'auto';
  if (isBackendName(value)) return value;
  throw new Error(
    `unknown backend "${value}" in the address: use ?backend=${[...BACKENDS, 'auto'].join('|')}`,
  );
}

/** What the browser says about its WebGPU adapter (GPUAdapterInfo; the WebGPU types are not in TS's DOM lib). */
export interface GpuAdapterReport {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  /** A software or otherwise limited adapter (SwiftShader is one): WebGPU may be slower than wasm. */
  readonly isFallbackAdapter: boolean;
}

interface GpuAdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  readonly info?: GpuAdapterInfoLike;
  /** Older Chromium put the flag on the adapter; newer ones on `info`. */
  readonly isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: {
    powerPreference?: 'low-power' | 'high-performance';
  }): Promise<GpuAdapterLike | null>;
}
export interface GpuDeviceLike {
  readonly lost: Promise<{ readonly reason?: string; readonly message?: string }>;
  destroy(): void;
}

export type WebGpuAvailability =
  | { readonly available: true; readonly adapter: GpuAdapterReport }
  | { readonly available: false; readonly reason: string };

/** Asks for the adapter TF.js's webgpu backend would get (it also asks for 'high-performance'). */
export async function inspectWebGpu(): Promise<WebGpuAvailability> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (gpu === undefined) return { available: false, reason: 'this browser has no WebGPU (navigator.gpu)' };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return { available: false, reason: `requestAdapter() failed: ${messageOf(error)}` };
  }
  if (adapter === null) return { available: false, reason: 'no WebGPU adapter (requestAdapter() gave null)' };
  const info = adapter.info ?? {};
  return {
    available: true,
    adapter: {
      vendor: info.vendor || 'unknown vendor',
      architecture: info.architecture || '',
      description: info.description || info.device || '',
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    },
  };
}

export function describeAdapter(adapter: GpuAdapterReport): string {
  const name = [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ');
  return adapter.isFallbackAdapter ? `${name} (fallback adapter)` : name;
}

interface WasmModule {
  getThreadsCount(): number;
}

let wasmModule: Promise<WasmModule> | null = null;

/**
 * Imports the wasm backend once, points it at its binaries and adds the kernel it lacks for CNNs. On
 * a cross-origin isolated page it loads the threaded build; its thread pool has
 * navigator.hardwareConcurrency / 2 threads (tfjs-backend-wasm assumes two hyperthreads per core), so
 * 1 on a 2-core machine, whatever setThreadsCount asks for.
 */
function loadWasm(): Promise<WasmModule> {
  wasmModule ??= (async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths({
      'tfjs-backend-wasm.wasm': wasmPlainUrl,
      'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
    });
    registerWasmConv2DBackpropFilter();
    return wasm;
  })();
  return wasmModule;
}

/** How long a backend may take to initialise before it counts as unavailable. */
const INIT_TIMEOUT_MS = 20_000;

export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    reason: string,
  ) {
    super(`${backend} is unavailable: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

/**
 * Makes `name` the active TF.js backend (importing it first when it is not part of @tensorflow/tfjs)
 * and returns a one-line description of what it runs on. Throws BackendUnavailableError.
 */
export async function activateBackend(name: BackendName): Promise<string> {
  try {
    if (name === 'wasm') await loadWasm();
    if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  } catch (error) {
    throw new BackendUnavailableError(name, `could not load it: ${messageOf(error)}`);
  }
  if (tf.findBackendFactory(name) === null) {
    throw new BackendUnavailableError(name, 'not supported by this browser');
  }
  let ok: boolean;
  try {
    ok = await withTimeout(tf.setBackend(name), INIT_TIMEOUT_MS, () => false);
  } catch (error) {
    throw new BackendUnavailableError(name, messageOf(error));
  }
  if (!ok || tf.getBackend() !== name) {
    throw new BackendUnavailableError(name, 'it failed to initialise (see the console)');
  }
  await tf.ready();
  return describeActiveBackend(name);
}

async function describeActiveBackend(name: BackendName): Promise<string> {
  switch (name) {
    case 'wasm': {
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const threads = (await loadWasm()).getThreadsCount();
      return `wasm${simd ? ' SIMD' : ''}, ${threads} thread${threads === 1 ? '' : 's'}`;
    }
    case 'webgl': {
      const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
      const info = gl?.getExtension('WEBGL_debug_renderer_info');
      const renderer =
        gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : 'unknown renderer';
      return `webgl ${tf.env().getNumber('WEBGL_VERSION')}: ${renderer}`;
    }
    case 'webgpu': {
      const availability = await inspectWebGpu();
      return availability.available ? `webgpu: ${describeAdapter(availability.adapter)}` : 'webgpu';
    }
    case 'cpu':
      return 'cpu (plain JavaScript)';
  }
}

/** The GPUDevice behind the active webgpu backend, to watch for (or, in tests, cause) its loss. */
export function activeGpuDevice(): GpuDeviceLike | null {
  if (tf.getBackend() !== 'webgpu') return null;
  return (tf.backend() as unknown as { device?: GpuDeviceLike }).device ?? null;
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

/** Resolves with `promise`, or with `onTimeout()` when it takes longer than `ms`. */
export function withTimeout<T, U>(promise: Promise<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
