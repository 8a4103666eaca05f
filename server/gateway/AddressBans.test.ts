import { describe, expect, it } from 'vitest';
import { AddressBans } from './AddressBans.js';

describe('AddressBans', () => {
  it('bans an address at its third strike-out, for the ban time, and no other address', async () => {
    const bans = new AddressBans({ strikeOutsToBan: 3, windowSecs: 60, banSecs: 30 });
    await bans.struckOut('10.0.0.1');
    await bans.struckOut('10.0.0.1');
    expect(await bans.bannedForSecs('10.0.0.1')).toBe(0);
    await bans.struckOut('10.0.0.1');
    const secs = await bans.bannedForSecs('10.0.0.1');
    expect(secs).toBeGreaterThan(25);
    expect(secs).toBeLessThanOrEqual(30);
    expect(await bans.bannedForSecs('10.0.0.2')).toBe(0);
  });

  it('never bans when strikeOutsToBan is 0', async () => {
    const bans = new AddressBans({ strikeOutsToBan: 0, windowSecs: 60, banSecs: 30 });
    for (let i = 0; i < 10; i++) await bans.struckOut('10.0.0.1');
    expect(await bans.bannedForSecs('10.0.0.1')).toBe(0);
  });

  it('lifts the ban when its time is up', async () => {
    const bans = new AddressBans({ strikeOutsToBan: 1, windowSecs: 60, banSecs: 1 });
    await bans.struckOut('10.0.0.1');
    expect(await bans.bannedForSecs('10.0.0.1')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await bans.bannedForSecs('10.0.0.1')).toBe(0);
  });
});
