import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { HubClient } from '../../shared/HubClient.js';
import type { HubStatus } from '../hubStatus.js';
import { testGradient } from '../testing/testHub.js';
import { nodeArgsForTest } from '../testing/testProcesses.js';

/**
 * Local mode's outer momentum lives in the checkpoint: a hub killed with SIGKILL and started again
 * applies the next round exactly as the hub that was never killed did (same shard checksums).
 */
const children: ChildProcess[] = [];
const clients: HubClient[] = [];
let dir: string | undefined;

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

const TOKEN = 'local-resume-test-token';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function startHubProcess(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgsForTest('server/main.ts'), ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

async function waitForStatus(url: string): Promise<HubStatus> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return (await (await fetch(`${url}/api/status`)).json()) as HubStatus;
    } catch {
      if (Date.now() > deadline) throw new Error(`the hub at ${url} did not answer within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** One local round: both clients pull it and push the changes of `round`'s seeds. */
async function playRound(pair: HubClient[], round: number): Promise<void> {
  const pulls = await Promise.all(pair.map((c) => c.pull()));
  await Promise.all(
    pair.map((c, i) =>
      c.push({
        gradient: testGradient(pulls[i].weights.length, 100 * round + i).map((v) => v * 0.01),
        versions: pulls[i].versions,
        round: pulls[i].round,
        localSteps: 5,
        examples: 64,
        loss: 1,
      }),
    ),
  );
}

async function connectPair(url: string): Promise<HubClient[]> {
  const pair = [
    await HubClient.connect({ url, backend: 'test' }),
    await HubClient.connect({ url, backend: 'test' }),
  ];
  clients.push(...pair);
  return pair;
}

it('SIGKILL and resume: the outer momentum continues bit-exact', async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-local-resume-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    ['--port', String(port), '--mode', 'local', '--shards', '2', '--compress-changes', 'none'],
    ['--checkpoint-dir', dir, '--checkpoint-secs', '3600', '--eval-interval', '60'],
    // Its pairs push by hand: no backend to check.
    ['--eval-examples', '500', '--admin-token', TOKEN, '--no-known-answer'],
  ].flat();

  const first = startHubProcess(args);
  await waitForStatus(url);
  let pair = await connectPair(url);
  for (let round = 1; round <= 3; round++) await playRound(pair, round);
  const saved = await fetch(`${url}/api/admin/checkpoint`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(saved.status).toBe(200);
  // The round after the checkpoint, on the hub that keeps running: the reference.
  await playRound(pair, 4);
  const reference = await waitForStatus(url);
  expect(reference.globalStep).toBe(4);
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  clients.splice(0).forEach((c) => c.close());

  startHubProcess(args);
  const resumed = await waitForStatus(url);
  expect(resumed.globalStep).toBe(3);
  pair = await connectPair(url);
  await playRound(pair, 4);
  const after = await waitForStatus(url);
  expect(after.globalStep).toBe(4);
  // Without the outer momentum restored, round 4 would move the weights by less: other checksums.
  expect(after.shards.map((s) => s.checksum)).toEqual(reference.shards.map((s) => s.checksum));
}, 180_000);
