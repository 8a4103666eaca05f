import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { assembleWat, WAT_FILES, wasmPathOf } from '../scripts/build-kernels.mjs';

const root = new URL('../', import.meta.url);

// The hub loads the committed .wasm files; their sources are the .wat files next to them. After
// editing a .wat, `npm run build:kernels` writes the .wasm again.
describe('the shipped WebAssembly kernels', () => {
  it.each(WAT_FILES)('%s: the .wasm next to it is what wabt assembles from it now', async (wat) => {
    const shipped = new Uint8Array(await readFile(new URL(wasmPathOf(wat), root)));
    const assembled = await assembleWat(wat);
    expect(
      Buffer.compare(shipped, assembled) === 0,
      `${wasmPathOf(wat)} differs from ${wat}: run npm run build:kernels`,
    ).toBe(true);
  });
});
