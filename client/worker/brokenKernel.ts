import * as tf from '@tensorflow/tfjs';

/**
 * Makes a backend compute wrong gradients, as real GPU drivers have (all-zero filter gradients):
 * its Conv2DBackpropFilter kernel answers zeros from now on, while the forward pass stays right and
 * every value finite, so nothing but a check of the gradient itself can tell. For end-to-end tests of
 * the hub's known-answer check (window.__worker.breakGradients). False when the backend has no such
 * kernel (it is not registered in this page).
 */
export function breakFilterGradients(backendName: string): boolean {
  const kernelName = 'Conv2DBackpropFilter';
  if (tf.getKernel(kernelName, backendName) === undefined) return false;
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({
    kernelName,
    backendName,
    kernelFunc: ({ attrs, backend }) => {
      const shape = attrs!.filterShape as number[];
      const size = shape.reduce((a, b) => a * b, 1);
      return (backend as tf.KernelBackend & { makeTensorInfo: MakeTensorInfo }).makeTensorInfo(
        shape,
        'float32',
        new Float32Array(size),
      );
    },
  });
  return true;
}

type MakeTensorInfo = (shape: number[], dtype: 'float32', values: Float32Array) => tf.TensorInfo;
