#!/usr/bin/env node
/* global process, console, URL */
// `npm run build:kernels`: assembles the WebAssembly text kernels into the .wasm files the hub loads
// (server/optimizers/kernels.wasm, the shards' update rules; server/gateway/finiteCheck.wasm, the
// gateway's finite scan). The .wasm files are committed, so that the hub, its tests and a fresh clone
// run without this step; server/wasmKernels.test.ts fails when one no longer equals what wabt
// assembles from its .wat. Run this after editing a .wat.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import wabt from 'wabt';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every kernel, as a path relative to the repository root; each .wasm lies next to its .wat. */
export const WAT_FILES = ['server/optimizers/kernels.wat', 'server/gateway/finiteCheck.wat'];

/** The .wasm file a .wat assembles into. */
export function wasmPathOf(watPath) {
  return watPath.replace(/\.wat$/, '.wasm');
}

/** The binary wabt assembles from a .wat (path relative to the repository root); validated. */
export async function assembleWat(watPath) {
  const source = readFileSync(join(ROOT, watPath), 'utf8');
  const parsed = (await wabt()).parseWat(basename(watPath), source, { simd: true });
  try {
    parsed.validate();
    // A copy: the module's buffer belongs to wabt's heap.
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

async function main() {
  for (const wat of WAT_FILES) {
    const binary = await assembleWat(wat);
    writeFileSync(join(ROOT, wasmPathOf(wat)), binary);
    console.log(`build:kernels: ${wasmPathOf(wat)} (${binary.length} bytes)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(`build:kernels: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  });
}
