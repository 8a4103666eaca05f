import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../startHub.js';
import { startTestHub } from '../testing/testHub.js';
import { withDirective } from './embedHeaders.js';

let hub: RunningHub;

beforeAll(async () => {
  hub = await startTestHub();
});

afterAll(async () => {
  await hub?.close();
});

describe('/embed', () => {
  it('may be framed by any site, and by cross-origin isolated ones too', async () => {
    const response = await fetch(`${hub.url}/embed`);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain('frame-ancestors *');
    expect(csp).not.toContain("frame-ancestors 'self'");
    // The rest of the policy is the hub's.
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval' blob:");
    expect(csp).toContain("object-src 'none'");
    expect(response.headers.get('x-frame-options')).toBeNull();
    expect(response.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('changes nothing for the other pages: /worker and the dashboard stay unframeable elsewhere', async () => {
    for (const path of ['/', '/worker', '/api/status']) {
      const response = await fetch(`${hub.url}${path}`);
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    }
  });
});

describe('withDirective', () => {
  it('replaces a directive or appends it', () => {
    expect(withDirective("default-src 'self';frame-ancestors 'self'", 'frame-ancestors', '*')).toBe(
      "default-src 'self';frame-ancestors *",
    );
    expect(withDirective("default-src 'self'", 'frame-ancestors', '*')).toBe(
      "default-src 'self';frame-ancestors *",
    );
  });
});
