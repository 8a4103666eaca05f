import { describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN_KEY,
  forgetAdminToken,
  takeAdminToken,
  tokenFromFragment,
  type TokenPage,
} from './adminToken.js';

/** A page at `path` + `hash` with an in-memory sessionStorage; records what the address bar became. */
function fakePage(hash: string, stored: Record<string, string> = {}, storageWorks = true) {
  const items = new Map(Object.entries(stored));
  const addresses: string[] = [];
  const fail = () => {
    throw new Error('storage is switched off');
  };
  const page: TokenPage = {
    location: { hash, pathname: '/', search: '?x=1' },
    history: { state: null, replaceState: (_state, _unused, url) => void addresses.push(String(url)) },
    sessionStorage: {
      getItem: (key) => (storageWorks ? (items.get(key) ?? null) : fail()),
      setItem: (key, value) => void (storageWorks ? items.set(key, value) : fail()),
      removeItem: (key) => void (storageWorks ? items.delete(key) : fail()),
    },
  };
  return { page, items, addresses };
}

describe('tokenFromFragment', () => {
  it.each([
    ['#admin=abc-DEF_123', 'abc-DEF_123'],
    ['#admin=a%2Bb%2Fc%3D', 'a+b/c='],
    ['#x=1&admin=tok', 'tok'],
    ['#admin=', null],
    ['#other=1', null],
    ['', null],
  ])('%s -> %s', (hash, token) => expect(tokenFromFragment(hash)).toBe(token));
});

describe('takeAdminToken', () => {
  it('takes the token from the link, removes it from the address bar and keeps it for this tab', () => {
    const { page, items, addresses } = fakePage('#admin=secret');
    expect(takeAdminToken(page)).toBe('secret');
    expect(addresses).toEqual(['/?x=1']);
    expect(items.get(ADMIN_TOKEN_KEY)).toBe('secret');
  });

  it('after a reload (no fragment) uses the kept one; a new link replaces it', () => {
    const reload = fakePage('', { [ADMIN_TOKEN_KEY]: 'kept' });
    expect(takeAdminToken(reload.page)).toBe('kept');
    expect(reload.addresses).toEqual([]);
    const link = fakePage('#admin=newer', { [ADMIN_TOKEN_KEY]: 'kept' });
    expect(takeAdminToken(link.page)).toBe('newer');
    expect(link.items.get(ADMIN_TOKEN_KEY)).toBe('newer');
  });

  it('a viewer has none; a refused token is forgotten', () => {
    const { page, items } = fakePage('', { [ADMIN_TOKEN_KEY]: 'old' });
    forgetAdminToken(page);
    expect(items.has(ADMIN_TOKEN_KEY)).toBe(false);
    expect(takeAdminToken(page)).toBeNull();
  });

  it('works without storage: the token from the link is used, just not kept', () => {
    const { page, addresses } = fakePage('#admin=secret', {}, false);
    expect(takeAdminToken(page)).toBe('secret');
    expect(addresses).toEqual(['/?x=1']);
    expect(() => forgetAdminToken(page)).not.toThrow();
    expect(takeAdminToken(fakePage('', {}, false).page)).toBeNull();
  });
});
