import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { HubClient } from '../../shared/HubClient.js';
import type { VolunteerStanding } from '../actors/VolunteerCredit.js';
import { DEFAULT_HUB_OPTIONS, type HubOptions } from '../options.js';
import type { RunningHub } from '../startHub.js';
import { checkpointedHubsEach } from '../testing/checkpointedHubs.js';
import { testGradient } from '../testing/testHub.js';

/**
 * Issue 16, credit that lasts: one identity is one volunteer however many tabs and reloads it has,
 * its credit adds up, is served at GET /api/volunteers best first, and survives a hub restart. And
 * the lies: a made-up or stolen-looking identity, a display name that is not one.
 */

const OPTIONS: HubOptions = {
  ...DEFAULT_HUB_OPTIONS,
  // Its clients push by hand: no backend to check.
  knownAnswer: false,
  mode: 'async',
  shards: 2,
  evalIntervalMs: 600_000,
  evalExamples: 2_000,
};
const hubs = checkpointedHubsEach('volunteer-credit', 2);
const start = () => hubs.start(OPTIONS);

async function connect(
  hub: RunningHub,
  options: { identity?: string; name?: string } = {},
): Promise<HubClient> {
  return hubs.track(await HubClient.connect({ url: hub.url, backend: 'test', ...options }));
}

async function pushOnce(client: HubClient, examples: number, seed: number): Promise<void> {
  const pulled = await client.pull();
  await client.push({
    gradient: testGradient(pulled.weights.length, seed),
    versions: pulled.versions,
    examples,
    loss: 1,
  });
}

async function volunteers(hub: RunningHub): Promise<VolunteerStanding[]> {
  const response = await fetch(`${hub.url}/api/volunteers`);
  expect(response.status).toBe(200);
  return (await response.json()) as VolunteerStanding[];
}

describe('volunteer credit', () => {
  it('two tabs and a reload of one profile are one volunteer whose credit adds up, best first', async () => {
    const hub = await start();
    const first = await connect(hub, { name: 'Ada L.' });
    await pushOnce(first, 30, 1);
    // A second tab of the same profile, and a reload (the first tab's connection gone, its token kept).
    const second = await connect(hub, { identity: first.identity });
    await pushOnce(second, 20, 2);
    first.close();
    const reloaded = await connect(hub, { identity: first.identity });
    await pushOnce(reloaded, 10, 3);
    // Someone else, who gave less.
    const other = await connect(hub);
    await pushOnce(other, 8, 4);

    expect(second.volunteer).toBe(first.volunteer);
    expect(reloaded.volunteer).toBe(first.volunteer);
    expect(other.volunteer).not.toBe(first.volunteer);
    const board = await volunteers(hub);
    expect(board).toHaveLength(2);
    expect(board[0]).toMatchObject({
      volunteer: first.volunteer,
      name: 'Ada L.',
      examples: 60,
      pushes: 3,
      rank: 1,
      online: 2,
    });
    expect(board[0].share).toBeCloseTo(60 / 68, 10);
    expect(board[1]).toMatchObject({
      volunteer: other.volunteer,
      name: null,
      examples: 8,
      rank: 2,
      online: 1,
    });
    // Never the token itself.
    expect(JSON.stringify(board)).not.toContain(first.identity);
    // The status rows name the same volunteer.
    const status = await hub.hub.status();
    expect(new Set(status.workers.map((w) => w.volunteer))).toEqual(
      new Set([first.volunteer, other.volunteer]),
    );
  });

  it("credit survives a hub restart, and the volunteer's next push adds to it", async () => {
    const hub = await start();
    const client = await connect(hub, { name: 'Grace' });
    await pushOnce(client, 25, 1);
    const identity = client.identity;
    client.close();
    await hubs.stop(hub);

    const again = await start();
    expect(await volunteers(again)).toMatchObject([{ name: 'Grace', examples: 25, pushes: 1, online: 0 }]);
    const back = await connect(again, { identity });
    await pushOnce(back, 5, 2);
    expect(await volunteers(again)).toMatchObject([{ name: 'Grace', examples: 30, pushes: 2, online: 1 }]);
  });

  it("a made-up identity, or another volunteer's public name as one, starts from nothing", async () => {
    const hub = await start();
    const honest = await connect(hub);
    await pushOnce(honest, 40, 1);
    const madeUp = await connect(hub, { identity: 'x'.repeat(32) });
    // The public name is all anyone else sees; shown as an identity it is just another token.
    const posing = await connect(hub, {
      identity: honest.volunteer.replace(/[^A-Za-z0-9_-]/g, '_').padEnd(16, '_'),
    });
    await pushOnce(madeUp, 1, 2);
    await pushOnce(posing, 1, 3);
    const board = await volunteers(hub);
    expect(board.find((v) => v.volunteer === honest.volunteer)).toMatchObject({ examples: 40, pushes: 1 });
    expect(board.filter((v) => v.volunteer !== honest.volunteer).map((v) => v.examples)).toEqual([1, 1]);
  });

  it.each([
    ['a markup name', '<script>alert(1)</script>'],
    ['a name too long', 'x'.repeat(33)],
    ['a name that starts with a space', ' Ada'],
    ['an empty name', ''],
    ['a control character', 'Ada\u0007'],
  ])('%s is refused as an invalid message; the hub stays up', async (_case, name) => {
    const hub = await start();
    await expect(connect(hub, { name })).rejects.toMatchObject({ code: ErrorCode.InvalidMessage });
    const fine = await connect(hub, { name: 'Émilie du Châtelet' });
    await pushOnce(fine, 3, 1);
    expect(await volunteers(hub)).toMatchObject([{ name: 'Émilie du Châtelet', examples: 3 }]);
  });
});
