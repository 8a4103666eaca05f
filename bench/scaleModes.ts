import type { HubOptions } from '../server/options.js';
import type { TrainingMode } from '../shared/protocol.js';

/**
 * The training modes the bench measures side by side (figures 4 and 8), by name: the hub options that
 * turn each on; everything else is the bench hub's defaults (server/options.ts DEFAULT_HUB_OPTIONS:
 * local mode's 20 local steps, outer nesterov 0.7 / 0.9, fp16 changes). Every training mode has one
 * under its own name.
 */
export const SCALE_MODES = {
  async: { mode: 'async' },
  sync: { mode: 'sync' },
  local: { mode: 'local' },
  // Issue 13's buffered variant (FedBuff): the outer step every 2 changes as they arrive, no rounds.
  'local-buffered': { mode: 'local', localBuffer: 2 },
} as const satisfies Record<TrainingMode, Partial<HubOptions>> & Record<string, Partial<HubOptions>>;
export type ScaleMode = keyof typeof SCALE_MODES;
export const SCALE_MODE_NAMES = Object.keys(SCALE_MODES) as readonly ScaleMode[];
export const DEFAULT_SCALE_MODES: readonly ScaleMode[] = ['async', 'sync', 'local'];
