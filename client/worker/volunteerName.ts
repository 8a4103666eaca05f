/**
 * The display name a volunteer may give for the hub's leaderboard (the hello's `name`; the hub
 * refuses anything else as an invalid message): 1-32 letters, digits, spaces, `_ . -`. Kept in
 * localStorage, so every later visit and reconnect sends it.
 */
const NAME_PATTERN = /^[A-Za-z0-9 _.-]{1,32}$/;
const STORAGE_KEY = 'volunteer-name';

/** The name as it will be sent (trimmed; '' for none), or a problem to show. */
export function checkDisplayName(text: string): { name: string } | { problem: string } {
  const name = text.trim();
  if (name === '') return { name };
  if (name.length > 32) return { problem: 'at most 32 characters' };
  if (!NAME_PATTERN.test(name)) return { problem: 'only letters, digits, spaces and _ . -' };
  return { name };
}

export function loadDisplayName(): string | null {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === null) return null;
    const checked = checkDisplayName(saved);
    return 'name' in checked && checked.name !== '' ? checked.name : null;
  } catch {
    return null;
  }
}

export function saveDisplayName(name: string): void {
  try {
    if (name === '') localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, name);
  } catch {
    // Storage is off: the name holds for this visit's connections only (the worker keeps it).
  }
}
