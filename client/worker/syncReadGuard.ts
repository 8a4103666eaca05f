import * as tf from '@tensorflow/tfjs';

let syncReadsOnWebGpu = 0;
let installed = false;

/**
 * Counts synchronous reads (`dataSync`, `arraySync`) made while WebGPU is the active backend. On
 * WebGPU they stall the page and, measured here, returned zeros silently or lost the device; the worker
 * reads with `await t.data()` only, and the count (shown to tests) proves it stays at zero.
 */
export function installSyncReadGuard(): void {
  if (installed) return;
  installed = true;
  const proto = tf.Tensor.prototype;
  const dataSync = proto.dataSync;
  const arraySync = proto.arraySync;
  proto.dataSync = function (this: tf.Tensor) {
    if (tf.getBackend() === 'webgpu') syncReadsOnWebGpu++;
    return dataSync.call(this);
  } as typeof dataSync;
  proto.arraySync = function (this: tf.Tensor) {
    if (tf.getBackend() === 'webgpu') syncReadsOnWebGpu++;
    return arraySync.call(this);
  } as typeof arraySync;
}

export function syncReadsOnWebGpuCount(): number {
  return syncReadsOnWebGpu;
}
