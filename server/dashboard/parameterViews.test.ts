import { expect, it } from 'vitest';
import { layoutFromShapes } from '../../shared/layout.js';
import { firstLayerImages, histograms, l2Norms } from './parameterViews.js';

const convLayout = layoutFromShapes([
  { name: 'conv1/kernel', shape: [2, 2, 1, 3] },
  { name: 'conv1/bias', shape: [3] },
]);

it('computes each tensor’s L2 norm and histogram', () => {
  const weights = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0]);
  const [kernelNorm, biasNorm] = l2Norms(convLayout, weights);
  expect(kernelNorm).toBeCloseTo(Math.sqrt([...Array(12).keys()].reduce((s, v) => s + v * v, 0)));
  expect(biasNorm).toBe(0);
  const [kernel, bias] = histograms(convLayout, weights, 4);
  expect(kernel).toMatchObject({ name: 'conv1/kernel', min: 0, max: 11, counts: [3, 3, 3, 3] });
  expect(bias.counts).toEqual([3, 0, 0, 0]);
});

it('draws a convolution’s filters as images, each scaled to 0..255', () => {
  // Filter f at pixel p is weights[p * 3 + f]: filter 0 = 0,3,6,9; filter 1 = 1,4,7,10; filter 2 = -(...).
  const weights = new Float32Array([0, 1, 0, 3, 4, -3, 6, 7, -6, 9, 10, -9, 0, 0, 0]);
  const images = firstLayerImages(convLayout, weights)!;
  expect(images).toMatchObject({ width: 2, height: 2, count: 3 });
  expect(Array.from(images.pixels)).toEqual([0, 85, 170, 255, 0, 85, 170, 255, 255, 170, 85, 0]);
});

it('draws a dense layer over the pixels as 28x28 images', () => {
  const layout = layoutFromShapes([{ name: 'dense1/kernel', shape: [784, 2] }]);
  const weights = new Float32Array(784 * 2).map((_, i) => (i % 2 === 0 ? i : -i));
  const images = firstLayerImages(layout, weights)!;
  expect(images).toMatchObject({ width: 28, height: 28, count: 2 });
  expect(images.pixels[0]).toBe(0);
  expect(images.pixels[783]).toBe(255);
  expect(images.pixels[784]).toBe(255);
});
