/**
 * The model download (`/api/model/*`): one TF.js Layers export per global step, however many
 * downloads ask for it. Apart from createHub so that the cache's rule (when an export is stale) sits
 * in one small place.
 */
import type { ModelName } from '../../shared/models.js';
import { layersModelArtifacts, type LayersModelArtifacts } from './layersModelArtifacts.js';

/** A function that answers the current weights' export, made again only when the step has moved. */
export function modelExportCache(
  model: ModelName,
  globalStep: () => number,
  weights: () => Promise<Float32Array>,
): () => Promise<LayersModelArtifacts> {
  let exported: { step: number; artifacts: Promise<LayersModelArtifacts> } | null = null;
  return async () => {
    const step = globalStep();
    if (exported?.step !== step) exported = { step, artifacts: layersModelArtifacts(model, await weights()) };
    return exported.artifacts;
  };
}
