import * as tf from '@tensorflow/tfjs';

/**
 * A `Conv2DBackpropFilter` kernel for the TF.js wasm backend, which (as of 4.22) ships none, so a
 * CNN cannot be trained on wasm as shipped. Built only from wasm's own kernels (PadV2, Transpose,
 * Conv2D), so it runs in the browser and in Node alike.
 *
 * The filter gradient of a stride-1, dilation-1 NHWC convolution is
 *   dW[kh, kw, ci, co] = sum_{b, oh, ow} xpad[b, oh + kh, ow + kw, ci] * dy[b, oh, ow, co],
 * which is itself a 'valid' stride-1 convolution once the batch axis plays the channel role:
 *   input  transpose(xpad, [3, 1, 2, 0])  [ci, Hp, Wp, b]
 *   filter transpose(dy,   [1, 2, 0, 3])  [oh, ow, b, co]
 *   output                                [ci, kh, kw, co]  -> transpose [1, 2, 0, 3] -> [kh, kw, ci, co]
 * with Hp = oh + kh - 1 and Wp = ow + kw - 1.
 *
 * Only stride 1, dilation 1 and NHWC are supported; anything else throws rather than computing a
 * wrong gradient. Every model in shared/models.ts is within that (pooling does the down-sampling).
 */

const BACKEND = 'wasm';

interface WasmKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}

/** Looks up one of the wasm backend's own kernels; they are registered when the backend is imported. */
function wasmKernel(kernelName: string): (args: WasmKernelArgs) => tf.TensorInfo {
  const config = tf.getKernel(kernelName, BACKEND);
  if (config === undefined) {
    throw new Error(
      `wasm Conv2DBackpropFilter needs the wasm '${kernelName}' kernel, which is not registered: ` +
        `import '@tensorflow/tfjs-backend-wasm' before the first gradient is computed`,
    );
  }
  return (args) => {
    const out = config.kernelFunc(args);
    if (Array.isArray(out)) {
      throw new Error(`wasm '${kernelName}' kernel returned ${out.length} tensors, expected one`);
    }
    return out;
  };
}

function isOne(value: number | [number, number] | undefined): boolean {
  if (value === undefined) return true;
  return typeof value === 'number' ? value === 1 : value[0] === 1 && value[1] === 1;
}

function conv2DBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  // Dilated backprop-filter ops carry a `dilations` attribute that the core interface leaves out.
  const dilations = (args.attrs as { dilations?: number | [number, number] } | undefined)?.dilations;

  if (!isOne(strides)) {
    throw new Error(
      `wasm Conv2DBackpropFilter supports stride 1 only, got strides ${JSON.stringify(strides)}`,
    );
  }
  if (!isOne(dilations)) {
    throw new Error(
      `wasm Conv2DBackpropFilter supports dilation 1 only, got dilations ${JSON.stringify(dilations)}`,
    );
  }
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only, got '${dataFormat}'`);
  }
  if (x.shape.length !== 4 || dy.shape.length !== 4) {
    throw new Error(
      `wasm Conv2DBackpropFilter expects rank-4 x and dy, got [${x.shape.join(',')}] and [${dy.shape.join(',')}]`,
    );
  }

  // Same padding arithmetic as every other backend ('same' splits odd padding bottom/right, as TF).
  const convInfo = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    1,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { top, bottom, left, right } = convInfo.padInfo;
  const [batch, inHeight, inWidth, inChannels] = x.shape;
  const [dyBatch, outHeight, outWidth, outChannels] = dy.shape;
  const [filterHeight, filterWidth, filterIn, filterOut] = filterShape;
  if (
    dyBatch !== batch ||
    filterIn !== inChannels ||
    filterOut !== outChannels ||
    outHeight !== convInfo.outHeight ||
    outWidth !== convInfo.outWidth ||
    inHeight + top + bottom !== outHeight + filterHeight - 1 ||
    inWidth + left + right !== outWidth + filterWidth - 1
  ) {
    throw new Error(
      `wasm Conv2DBackpropFilter: shapes do not fit: x [${x.shape.join(',')}], dy [${dy.shape.join(',')}], ` +
        `filter [${filterShape.join(',')}], pad ${JSON.stringify(pad)}`,
    );
  }

  const padV2 = wasmKernel(tf.PadV2);
  const transpose = wasmKernel(tf.Transpose);
  const conv2D = wasmKernel(tf.Conv2D);

  // Tensors this kernel creates and must free before returning (the inputs are not ours to free).
  const intermediates: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo): tf.TensorInfo => {
    intermediates.push(t);
    return t;
  };
  try {
    const needsPad = top !== 0 || bottom !== 0 || left !== 0 || right !== 0;
    const xPadded = needsPad
      ? keep(
          padV2({
            inputs: { x },
            backend,
            attrs: {
              paddings: [
                [0, 0],
                [top, bottom],
                [left, right],
                [0, 0],
              ],
              constantValue: 0,
            },
          }),
        )
      : x;
    // [ci, Hp, Wp, b]
    const xT = keep(transpose({ inputs: { x: xPadded }, backend, attrs: { perm: [3, 1, 2, 0] } }));
    // [oh, ow, b, co]
    const dyT = keep(transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }));
    // [ci, kh, kw, co]
    const dwT = keep(
      conv2D({
        inputs: { x: xT, filter: dyT },
        backend,
        attrs: { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 },
      }),
    );
    // [kh, kw, ci, co]: the one tensor handed back to the engine.
    return transpose({ inputs: { x: dwT }, backend, attrs: { perm: [1, 2, 0, 3] } });
  } finally {
    for (const t of intermediates) backend.disposeData(t.dataId);
  }
}

/**
 * Registers the kernel for the 'wasm' backend. Idempotent: does nothing when a kernel is already
 * registered (ours, or one a future tfjs-backend-wasm ships, which should then win).
 */
export function registerWasmConv2DBackpropFilter(): void {
  if (tf.getKernel(tf.Conv2DBackpropFilter, BACKEND) !== undefined) return;
  tf.registerKernel({
    kernelName: tf.Conv2DBackpropFilter,
    backendName: BACKEND,
    kernelFunc: conv2DBackpropFilterWasm as tf.KernelFunc,
  });
}
