import { defineConfig } from 'vitest/config';
import root from '../vitest.config.js';

/**
 * The root config's `include` does not list bench/, so `npx vitest run bench/` finds nothing there:
 * `npx vitest run --config bench/vitest.config.ts` runs the bench's own unit tests (the link relay's)
 * with the root's other settings.
 */
export default defineConfig({ ...root, test: { ...root.test, include: ['bench/**/*.test.ts'] } });
