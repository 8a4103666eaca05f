import type { FilterImages, TensorHistogram } from '../../shared/dashboardProtocol.js';
import type { ParameterLayout, TensorSlot } from '../../shared/layout.js';
import { IMAGE_PIXELS, IMAGE_SIZE } from '../../shared/models.js';

/** Pure views of the flat weight vector for the dashboard: norms, histograms, first-layer images. */

export function l2Norms(layout: ParameterLayout, weights: Float32Array): number[] {
  return layout.tensors.map((slot) => {
    let sum = 0;
    for (let i = slot.offset; i < slot.offset + slot.length; i++) sum += weights[i] * weights[i];
    return Math.sqrt(sum);
  });
}

export function histograms(layout: ParameterLayout, weights: Float32Array, bins = 24): TensorHistogram[] {
  return layout.tensors.map((slot) => histogram(slot, weights, bins));
}

function histogram(slot: TensorSlot, weights: Float32Array, bins: number): TensorHistogram {
  const end = slot.offset + slot.length;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = slot.offset; i < end; i++) {
    const v = weights[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v * v;
  }
  const counts = new Array<number>(bins).fill(0);
  // All values equal (a freshly zeroed bias): one full bin.
  const width = max > min ? (max - min) / bins : 1;
  for (let i = slot.offset; i < end; i++) {
    counts[Math.min(bins - 1, Math.floor((weights[i] - min) / width))]++;
  }
  return { name: slot.name, shape: slot.shape, min, max, counts, l2: Math.sqrt(sum) };
}

/** Most first-layer images to draw (a dense first layer has 128 units). */
const MAX_IMAGES = 32;

/**
 * What the first layer looks for, as images: a convolution's filters ([kh, kw, 1, filters]) or, for
 * a dense layer over the 784 pixels ([784, units]), each unit's weights as a 28x28 image. Each image
 * is scaled to its own min..max. Null when the first tensor is neither.
 */
export function firstLayerImages(layout: ParameterLayout, weights: Float32Array): FilterImages | null {
  const kernel = layout.tensors.find((t) => t.name.endsWith('/kernel'));
  if (!kernel) return null;
  const values = weights.subarray(kernel.offset, kernel.offset + kernel.length);
  if (kernel.shape.length === 4 && kernel.shape[2] === 1) {
    const [height, width, , filters] = kernel.shape;
    const count = Math.min(filters, MAX_IMAGES);
    return {
      title: `${kernel.name}: ${count} filters ${height}x${width}`,
      ...images(count, height * width, (image, pixel) => values[pixel * filters + image]),
      width,
      height,
    };
  }
  if (kernel.shape.length === 2 && kernel.shape[0] === IMAGE_PIXELS) {
    const units = kernel.shape[1];
    const count = Math.min(units, MAX_IMAGES);
    return {
      title: `${kernel.name}: first ${count} of ${units} units, weights per pixel`,
      ...images(count, IMAGE_PIXELS, (image, pixel) => values[pixel * units + image]),
      width: IMAGE_SIZE,
      height: IMAGE_SIZE,
    };
  }
  return null;
}

function images(
  count: number,
  size: number,
  valueAt: (image: number, pixel: number) => number,
): { count: number; pixels: Uint8Array } {
  const pixels = new Uint8Array(count * size);
  for (let image = 0; image < count; image++) {
    let min = Infinity;
    let max = -Infinity;
    for (let p = 0; p < size; p++) {
      const v = valueAt(image, p);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const scale = max > min ? 255 / (max - min) : 0;
    for (let p = 0; p < size; p++) pixels[image * size + p] = Math.round((valueAt(image, p) - min) * scale);
  }
  return { count, pixels };
}
