import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/** Where `npm run dev` finds the hub (`npm run hub` in another terminal). */
const HUB = process.env.HUB_URL ?? 'http://127.0.0.1:8080';

const clientDir = fileURLToPath(new URL('./client', import.meta.url));

/**
 * COOP + COEP make the page cross-origin isolated, which threaded wasm (SharedArrayBuffer) needs. The
 * hub sends the same headers (server/http/staticClient.ts).
 */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Pages the hub serves at /NAME; Vite's dev server only knows /NAME/ (the folder's index). */
const FOLDER_PAGES = ['worker', 'embed'];

function folderPagePaths(): Plugin {
  return {
    name: 'folder-page-paths',
    configureServer(server) {
      server.middlewares.use((req, _res, next) => {
        for (const page of FOLDER_PAGES) {
          const path = `/${page}`;
          if (req.url === path || req.url?.startsWith(`${path}?`))
            req.url = `${path}/${req.url.slice(path.length)}`;
        }
        next();
      });
    },
  };
}

export default defineConfig({
  root: clientDir,
  // Absolute asset URLs: /worker (no trailing slash) would break relative ones.
  base: '/',
  publicDir: false,
  plugins: [react(), folderPagePaths()],
  appType: 'mpa',
  build: {
    outDir: fileURLToPath(new URL('./dist/client', import.meta.url)),
    emptyOutDir: true,
    // TF.js is big (~1.5 MB minified per backend); the warning would say nothing new.
    chunkSizeWarningLimit: 4_000,
    rolldownOptions: {
      output: {
        // The threaded wasm backend starts its pthreads from `factory.toString()` of the Emscripten
        // module. Compression folds its `typeof _scriptDir !== "undefined" && _scriptDir` guard into a
        // bare reference to a variable the worker does not have ("ReferenceError: e is not defined").
        // Mangling alone keeps the guard.
        minify: { compress: false, mangle: true },
      },
      input: {
        dashboard: fileURLToPath(new URL('./client/index.html', import.meta.url)),
        worker: fileURLToPath(new URL('./client/worker/index.html', import.meta.url)),
        // The "help train" card other sites embed in an iframe (served with its own headers).
        embed: fileURLToPath(new URL('./client/embed/index.html', import.meta.url)),
        // Local training without the hub, for `npm run bench` (not served by the hub; see bench/).
        bench: fileURLToPath(new URL('./client/bench/index.html', import.meta.url)),
      },
    },
  },
  server: {
    headers: ISOLATION_HEADERS,
    proxy: {
      '/api': HUB,
      '/metrics': HUB,
      '/socket.io': { target: HUB, ws: true },
    },
  },
  preview: { headers: ISOLATION_HEADERS },
});
