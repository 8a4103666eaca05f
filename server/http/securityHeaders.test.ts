import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningHub } from '../startHub.js';
import { startTestHub } from '../testing/testHub.js';

let hub: RunningHub;

beforeAll(async () => {
  hub = await startTestHub();
});

afterAll(async () => {
  await hub?.close();
});

it.each(['/', '/worker', '/api/status', '/metrics', '/api/model/model.json'])(
  '%s carries a content security policy and the usual security headers',
  async (path) => {
    const response = await fetch(`${hub.url}${path}`);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval' blob:");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(response.headers.get('x-powered-by')).toBeNull();
    expect(response.headers.get('strict-transport-security')).toBeNull();
  },
);
