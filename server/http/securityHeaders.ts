import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * The usual security headers on everything the hub serves (helmet), with a content security policy
 * that allows exactly what the pages need: their own scripts, WebAssembly compilation (the TF.js wasm
 * backend), its worker threads, same-origin websockets (socket.io), and inline style attributes
 * (charts set element styles). Pages are cross-origin isolated (COOP + COEP) for threaded wasm.
 * No HSTS and no upgrade-insecure-requests: hubs often run on plain http inside a network.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        // blob: for the threaded wasm backend's worker scripts, which it builds at run time.
        'script-src': ["'self'", "'wasm-unsafe-eval'", 'blob:'],
        'worker-src': ["'self'", 'blob:'],
        'connect-src': ["'self'"],
        'img-src': ["'self'", 'data:', 'blob:'],
        'style-src': ["'self'", "'unsafe-inline'"],
        'upgrade-insecure-requests': null,
      },
    },
    crossOriginEmbedderPolicy: { policy: 'require-corp' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: false,
  });
}
