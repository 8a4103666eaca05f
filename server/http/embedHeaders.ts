import type { Response } from 'express';

/**
 * Headers for `/embed`, the "help train" card that any site may place in an iframe. Everything else
 * the hub serves refuses to be framed by other sites (helmet: `X-Frame-Options: SAMEORIGIN`, CSP
 * `frame-ancestors 'self'`); this one page says the opposite:
 * - CSP `frame-ancestors *` (the rest of helmet's policy kept) and no X-Frame-Options, which would
 *   otherwise win in older browsers;
 * - `Cross-Origin-Resource-Policy: cross-origin`, so that a page which is itself cross-origin isolated
 *   (COEP require-corp) may embed it, and COEP `require-corp`, which such a page requires of its
 *   iframes; the card's own scripts and wasm are same-origin to it, so require-corp blocks nothing;
 * - COOP `same-origin` stays: a browser ignores it in an iframe, and it isolates the card opened on
 *   its own, like /worker.
 * Runs after helmet (the app's first middleware), so it edits what helmet set.
 */
export function setEmbedHeaders(res: Response): void {
  res.removeHeader('X-Frame-Options');
  const csp = res.getHeader('Content-Security-Policy');
  res.setHeader(
    'Content-Security-Policy',
    typeof csp === 'string' ? withDirective(csp, 'frame-ancestors', '*') : 'frame-ancestors *',
  );
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

/** `csp` with `name` set to `value`: replaced where the policy has it, appended where it does not. */
export function withDirective(csp: string, name: string, value: string): string {
  const directives = csp
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  const index = directives.findIndex((d) => d.split(/\s+/)[0].toLowerCase() === name);
  const directive = `${name} ${value}`;
  if (index === -1) directives.push(directive);
  else directives[index] = directive;
  return directives.join(';');
}
