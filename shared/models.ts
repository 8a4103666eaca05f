import * as tf from '@tensorflow/tfjs';

/** MNIST images: [28, 28, 1] grey levels scaled to [0, 1]; 10 classes. */
export const IMAGE_SIZE = 28;
export const IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;

export const MODEL_NAMES = ['mlp', 'cnn', 'deep-cnn'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
export const DEFAULT_MODEL: ModelName = 'cnn';

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/**
 * Builds one of the three models. Every side (hub, evaluator, worker, export) builds its model here,
 * so the architecture and the order of the parameters exist in one place only. Layers carry explicit
 * names because the parameter layout is keyed by `layer/weight` names.
 */
export function buildModel(name: ModelName): tf.Sequential {
  switch (name) {
    case 'mlp':
      return tf.sequential({
        name: 'mlp',
        layers: [
          tf.layers.flatten({ name: 'flatten', inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1] }),
          tf.layers.dense({ name: 'dense1', units: 128, activation: 'relu' }),
          tf.layers.dense({ name: 'logits', units: NUM_CLASSES, activation: 'softmax' }),
        ],
      });
    case 'cnn':
      // As the TF.js MNIST example: 5,994 parameters.
      return tf.sequential({
        name: 'cnn',
        layers: [
          tf.layers.conv2d({
            name: 'conv1',
            inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1],
            kernelSize: 5,
            filters: 8,
            activation: 'relu',
            kernelInitializer: 'varianceScaling',
          }),
          tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }),
          tf.layers.conv2d({
            name: 'conv2',
            kernelSize: 5,
            filters: 16,
            activation: 'relu',
            kernelInitializer: 'varianceScaling',
          }),
          tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }),
          tf.layers.flatten({ name: 'flatten' }),
          tf.layers.dense({
            name: 'logits',
            units: NUM_CLASSES,
            activation: 'softmax',
            kernelInitializer: 'varianceScaling',
          }),
        ],
      });
    case 'deep-cnn':
      // TensorFlow's "deep MNIST": ~3.27M parameters, mostly in dense1 ([3136, 1024]).
      return tf.sequential({
        name: 'deep-cnn',
        layers: [
          tf.layers.conv2d({
            name: 'conv1',
            inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1],
            kernelSize: 5,
            filters: 32,
            padding: 'same',
            activation: 'relu',
          }),
          tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }),
          tf.layers.conv2d({
            name: 'conv2',
            kernelSize: 5,
            filters: 64,
            padding: 'same',
            activation: 'relu',
          }),
          tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }),
          tf.layers.flatten({ name: 'flatten' }),
          tf.layers.dense({ name: 'dense1', units: 1024, activation: 'relu' }),
          tf.layers.dense({ name: 'logits', units: NUM_CLASSES, activation: 'softmax' }),
        ],
      });
  }
}
