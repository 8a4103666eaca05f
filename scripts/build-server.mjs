#!/usr/bin/env node
/* global process, console, URL */
// `npm run build:server`: the hub as plain JavaScript, so that `npm start` runs it with `node` instead
// of compiling TypeScript at every start. Each .ts file of server/ and shared/ (tests left out) is
// transpiled on its own by esbuild, in the same folders under dist/ (dist/server/main.js, dist/shared/…),
// so every `import.meta.url`-relative path between them still holds; the .wasm kernels are copied next
// to the modules that load them, and the scripts/ modules the server imports to dist/scripts/. No
// bundling and no type checking: `npm run typecheck` checks the types (tsc over the same files took
// 10-16 s here, esbuild well under a second).
//
//   node scripts/build-server.mjs [--outdir DIR]   (default dist; DIR must lie inside the repository,
//                                                  so that the modules find node_modules)
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The folders built, relative to the repository root. */
export const SOURCE_DIRS = ['server', 'shared'];
/** Plain JavaScript modules the server imports from scripts/ (natsServer.ts: findNatsServer), copied as they are. */
const SCRIPT_MODULES = ['scripts/find-nats-server.mjs', 'scripts/debianPackage.mjs'];

/** The files of `dir` (relative to the root) that the built server needs: sources and .wasm kernels. */
function filesOf(dir) {
  const files = readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(ROOT, join(entry.parentPath ?? entry.path, entry.name)));
  return {
    sources: files.filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts')),
    assets: files.filter((f) => f.endsWith('.wasm')),
  };
}

/** Builds into `outdir` (absolute, or relative to the repository root); resolves with what it wrote. */
export async function buildServer(outdir = 'dist') {
  const out = resolve(ROOT, outdir);
  const sources = [];
  const assets = [...SCRIPT_MODULES];
  for (const dir of SOURCE_DIRS) {
    // A clean folder each time: a module deleted from the sources must not linger in the build.
    rmSync(join(out, dir), { recursive: true, force: true });
    const found = filesOf(dir);
    sources.push(...found.sources);
    assets.push(...found.assets);
  }
  await build({
    absWorkingDir: ROOT,
    entryPoints: sources,
    outdir: out,
    outbase: '.',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  for (const asset of assets) {
    mkdirSync(dirname(join(out, asset)), { recursive: true });
    copyFileSync(join(ROOT, asset), join(out, asset));
  }
  return { outdir: out, modules: sources.length, assets: assets.length };
}

function main() {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outdir');
  const outdir = at >= 0 ? args[at + 1] : undefined;
  if ((at >= 0 && !outdir) || args.length !== (at >= 0 ? 2 : 0)) {
    console.error('usage: node scripts/build-server.mjs [--outdir DIR]');
    process.exit(2);
  }
  buildServer(outdir).catch((error) => {
    console.error(`build:server: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
