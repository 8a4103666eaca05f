/** Types for find-chromium.mjs (imported by playwright.config.ts). */
export type ChromiumLookup = { path: string; source: string } | { path: null; problem: string };
export function findChromium(env?: NodeJS.ProcessEnv): Promise<ChromiumLookup>;
export const HOW_TO_GET_ONE: string;
