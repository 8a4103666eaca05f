import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type Response } from 'express';
import { REPO_ROOT } from '../repoRoot.js';
import { setEmbedHeaders } from './embedHeaders.js';

/** `vite build` writes the client here (vite.config.ts). */
export const DEFAULT_CLIENT_DIR = join(REPO_ROOT, 'dist', 'client');

/** URL path -> built page, and the headers it goes with. */
const PAGES: Record<string, { readonly file: string; readonly headers: (res: Response) => void }> = {
  '/': { file: 'index.html', headers: setIsolationHeaders },
  '/worker': { file: join('worker', 'index.html'), headers: setIsolationHeaders },
  // Framed by other sites: embedHeaders.ts.
  '/embed': { file: join('embed', 'index.html'), headers: setEmbedHeaders },
};

/**
 * COOP + COEP make the pages cross-origin isolated, so the wasm backend may use its threaded build
 * (SharedArrayBuffer). Every resource the pages load is same-origin, so require-corp blocks nothing.
 */
function setIsolationHeaders(res: Response): void {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
}

export interface StaticClientOptions {
  /** The folder `vite build` wrote; default dist/client at the repository root. */
  readonly dir?: string;
}

/**
 * Serves the built web client on the hub's app: the dashboard at `/`, the worker at `/worker`, the
 * card other sites embed at `/embed`, the hashed assets (JS, CSS and the TF.js wasm binaries, which
 * Vite copies into assets/). When the client
 * has not been built, the pages answer 503 saying how to build it; the API keeps working. The folder
 * is looked at per request, so building while the hub runs needs no restart.
 */
export function mountStaticClient(app: Express, options: StaticClientOptions = {}): void {
  const dir = options.dir ?? DEFAULT_CLIENT_DIR;

  for (const [path, { file, headers }] of Object.entries(PAGES)) {
    app.get(path, (_req, res) => {
      const page = join(dir, file);
      headers(res);
      if (!existsSync(page)) {
        res.status(503).type('html').send(notBuiltPage(dir));
        return;
      }
      // Pages name their assets by content hash: they must be revalidated, the assets need not be.
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(page);
    });
  }

  app.use(
    '/assets',
    express.static(join(dir, 'assets'), {
      immutable: true,
      maxAge: '1y',
      index: false,
      fallthrough: false,
      setHeaders: setIsolationHeaders,
    }),
  );
}

function notBuiltPage(dir: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Client not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto">
<h1>The web client is not built</h1>
<p>The hub is running (see <a href="/api/status">/api/status</a>), but ${escapeHtml(dir)} has no pages yet.
Run <code>npm run build:client</code> and reload; <code>npm start</code> builds it before starting the hub.</p>
</body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}
