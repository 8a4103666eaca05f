import * as tf from '@tensorflow/tfjs';

import { layoutOfModel } from '../../shared/layout.js';
import { buildModel, type ModelName } from '../../shared/models.js';
import { writeFlatWeights } from '../../shared/training.js';

/** The file the manifest points at, next to `model.json` (a relative URL, as tfjs-converter writes it). */
export const WEIGHTS_FILE = 'weights.bin';
export const MODEL_JSON_FILE = 'model.json';

/**
 * The standard TF.js `model.json` of a LayersModel: what `tf.loadLayersModel(url)` fetches first. The
 * weights are one file, [WEIGHTS_FILE], holding the tensors of `weightsManifest[0].weights` back to
 * back in that order, little-endian float32.
 */
export interface ModelJson extends tf.io.ModelJSON {
  readonly format: 'layers-model';
  /** e.g. "TensorFlow.js tfjs-layers v4.22.0". */
  readonly generatedBy: string;
  /** null: written by TF.js itself, not by the Python converter. */
  readonly convertedBy: null;
  /** The Keras-style topology (`{ class_name: 'Sequential', config, keras_version, backend }`). */
  readonly modelTopology: object;
  readonly weightsManifest: [{ paths: [typeof WEIGHTS_FILE]; weights: tf.io.WeightsManifestEntry[] }];
}

export interface LayersModelArtifacts {
  readonly modelJson: ModelJson;
  /** The bytes of WEIGHTS_FILE. */
  readonly weightsBin: Uint8Array;
}

/** The format string `tf.loadLayersModel` expects (tfjs-layers' LAYERS_MODEL_FORMAT_NAME). */
const LAYERS_MODEL_FORMAT = 'layers-model';

/**
 * The hub's flat weights (layout order, float32) as a LayersModel that `tf.loadLayersModel()` loads:
 * builds the model, writes the weights into it and lets TF.js serialise topology and weights itself
 * (`model.save` through `tf.io.withSaveHandler`), so the files match what `model.save('file://...')`
 * or `'downloads://'` would write. Needs an initialised TF.js backend (initNodeTf in the hub).
 *
 * Weight names in the manifest are the variables' original names (`conv1/kernel`), not the
 * per-process unique ones (`conv1/kernel_1` after a second build): tfjs-layers saves and loads by
 * `originalName`, so an export from a process that has built the model before loads in a fresh one.
 */
export async function layersModelArtifacts(
  model: ModelName,
  weights: Float32Array,
): Promise<LayersModelArtifacts> {
  const built = buildModel(model);
  try {
    const layout = layoutOfModel(built);
    writeFlatWeights(built, layout, weights);

    let saved: tf.io.ModelArtifacts | undefined;
    await built.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
      }),
    );
    if (!saved?.modelTopology || !saved.weightSpecs || !saved.weightData) {
      throw new Error(`exporting ${model}: TF.js saved no topology or no weights`);
    }

    // The hub's vector holds the trainable weights only. A model with non-trainable state (batch-norm
    // statistics) would be exported with that state at its initial values, so refuse rather than
    // write a model that loads and predicts wrongly.
    const specs = saved.weightSpecs;
    const expected = layout.tensors.map((t) => t.name);
    const names = specs.map((s) => s.name);
    if (names.length !== expected.length || names.some((name, i) => name !== expected[i])) {
      throw new Error(
        `exporting ${model}: the saved weights [${names.join(', ')}] are not the layout's ` +
          `[${expected.join(', ')}]`,
      );
    }

    // weightData may arrive as several buffers (tfjs >= 4.10 allows it for large models).
    const weightsBin = new Uint8Array(tf.io.CompositeArrayBuffer.join(saved.weightData));
    const expectedBytes = weights.length * Float32Array.BYTES_PER_ELEMENT;
    if (weightsBin.byteLength !== expectedBytes) {
      throw new Error(`exporting ${model}: ${weightsBin.byteLength} weight bytes, expected ${expectedBytes}`);
    }

    return {
      modelJson: {
        format: LAYERS_MODEL_FORMAT,
        generatedBy: saved.generatedBy ?? `TensorFlow.js v${tf.version.tfjs}`,
        convertedBy: null,
        modelTopology: saved.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
      },
      weightsBin,
    };
  } finally {
    built.dispose();
  }
}
