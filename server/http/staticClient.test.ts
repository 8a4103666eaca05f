import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { mountStaticClient } from './staticClient.js';

let server: Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function serve(clientDir: string): Promise<string> {
  const app = express();
  app.get('/api/status', (_req, res) => void res.json({ ok: true }));
  mountStaticClient(app, { dir: clientDir });
  server = createServer(app);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function expectIsolated(response: Response): void {
  expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
  expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
}

describe('mountStaticClient', () => {
  it('serves the pages and assets with COOP/COEP, wasm as application/wasm', async () => {
    dir = mkdtempSync(join(tmpdir(), 'client-'));
    mkdirSync(join(dir, 'worker'));
    mkdirSync(join(dir, 'embed'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<p>dashboard</p>');
    writeFileSync(join(dir, 'worker', 'index.html'), '<p>worker</p>');
    writeFileSync(join(dir, 'embed', 'index.html'), '<p>embed card</p>');
    writeFileSync(join(dir, 'assets', 'tfjs-backend-wasm-simd-abc.wasm'), new Uint8Array([0, 97, 115, 109]));
    const url = await serve(dir);

    for (const [path, text] of [
      ['/', 'dashboard'],
      ['/worker', 'worker'],
      ['/worker/', 'worker'],
      ['/embed', 'embed card'],
    ]) {
      const page = await fetch(url + path);
      expect(page.status, path).toBe(200);
      expect(await page.text()).toContain(text);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expectIsolated(page);
    }
    const wasm = await fetch(`${url}/assets/tfjs-backend-wasm-simd-abc.wasm`);
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(wasm.headers.get('cache-control')).toContain('immutable');
    expectIsolated(wasm);
    expect((await fetch(`${url}/assets/missing.js`)).status).toBe(404);
    expect(await (await fetch(`${url}/api/status`)).json()).toEqual({ ok: true });
  });

  it('answers 503 with how to build the client when it is missing, and the API still works', async () => {
    const url = await serve(join(tmpdir(), 'no-such-client-dir'));
    for (const path of ['/', '/worker', '/embed']) {
      const page = await fetch(url + path);
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('npm run build:client');
    }
    expect((await fetch(`${url}/api/status`)).status).toBe(200);
  });
});
