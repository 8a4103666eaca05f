/** Types for build-server.mjs (imported by server/testing/globalBuild.ts). */
export const SOURCE_DIRS: readonly string[];
export function buildServer(
  outdir?: string,
): Promise<{ readonly outdir: string; readonly modules: number; readonly assets: number }>;
