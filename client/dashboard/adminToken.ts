/**
 * The admin token reaches the page in the link the hub prints, `http://HOST:PORT/#admin=TOKEN`: a
 * fragment never goes to the server, so it stays out of request logs. The page takes it out of the
 * address bar at once (so it is not bookmarked, shared or shown) and keeps it in sessionStorage, which
 * is this tab's only, for reloads.
 */

/** sessionStorage key of the token. */
export const ADMIN_TOKEN_KEY = 'volunteer-trainer:admin-token';

/** What takeAdminToken needs of `window` (a parameter, so tests can hand it a fake). */
export interface TokenPage {
  readonly location: Pick<Location, 'hash' | 'pathname' | 'search'>;
  readonly history: Pick<History, 'state' | 'replaceState'>;
  readonly sessionStorage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
}

/** `#admin=TOKEN` -> TOKEN (URL-decoded); null when the fragment has none. */
export function tokenFromFragment(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('admin');
  return token ? token : null;
}

/**
 * The token from the link (then removed from the address bar and kept for this tab), else the one kept
 * earlier in this tab, else null (a viewer).
 */
export function takeAdminToken(page: TokenPage = window): string | null {
  const fromLink = tokenFromFragment(page.location.hash);
  if (fromLink === null) return quietly(() => page.sessionStorage.getItem(ADMIN_TOKEN_KEY));
  quietly(() => page.sessionStorage.setItem(ADMIN_TOKEN_KEY, fromLink));
  page.history.replaceState(page.history.state, '', `${page.location.pathname}${page.location.search}`);
  return fromLink;
}

/** A refused token is dropped, so that a reload does not offer it again. */
export function forgetAdminToken(page: Pick<TokenPage, 'sessionStorage'> = window): void {
  quietly(() => page.sessionStorage.removeItem(ADMIN_TOKEN_KEY));
}

/** Storage can be switched off (or full): the page then just forgets the token on reload. */
function quietly<T>(use: () => T): T | null {
  try {
    return use();
  } catch {
    return null;
  }
}
