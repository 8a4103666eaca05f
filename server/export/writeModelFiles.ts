import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { MODEL_JSON_FILE, WEIGHTS_FILE, type LayersModelArtifacts } from './layersModelArtifacts.js';

export interface WrittenModelFiles {
  /** Absolute path of model.json: `tf.loadLayersModel('file://...')` in tfjs-node, or serve the dir. */
  readonly modelJson: string;
  readonly weightsBin: string;
}

/**
 * Writes `model.json` and `weights.bin` into `dir` (created if missing). Each file is written to a
 * temporary name in the same folder and renamed over the old one, so a reader never sees a half-written
 * file. weights.bin is renamed first, so a reader that sees the new model.json also sees its weights.
 * A reader that fetches model.json just before the renames and weights.bin just after gets the old
 * model.json with the new weights: harmless when the folder always holds the same model (its
 * model.json is then identical every time), a mismatch if one folder is reused for another model.
 */
export async function writeModelFiles(
  dir: string,
  artifacts: LayersModelArtifacts,
): Promise<WrittenModelFiles> {
  await mkdir(dir, { recursive: true });
  const weightsBin = path.resolve(dir, WEIGHTS_FILE);
  const modelJson = path.resolve(dir, MODEL_JSON_FILE);
  await writeAtomically(weightsBin, artifacts.weightsBin);
  await writeAtomically(modelJson, JSON.stringify(artifacts.modelJson));
  return { modelJson, weightsBin };
}

async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  // Same folder as the target: rename() is atomic only within one file system.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data, { flush: true });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
