import { HubClient } from '../../shared/HubClient.js';
import { DEFAULT_HUB_OPTIONS, type HubOptions } from '../options.js';
import { startHub, type ListenOptions, type RunningHub } from '../startHub.js';
import { POOLED_EVALUATORS } from './evaluatorPool.js';

/** Where test hubs listen (127.0.0.1, a free port), with the process's shared evaluation threads. */
export const TEST_LISTEN: ListenOptions = { host: '127.0.0.1', port: 0, evaluators: POOLED_EVALUATORS };

/**
 * A real hub on 127.0.0.1, port 0, with test-sized defaults. Always `close()` it. Async mode unless
 * the test says otherwise: most tests push single gradients and count steps one by one, by hand, so
 * the known-answer check is off unless a test asks for it (workChecks.test.ts, the e2e specs). Its
 * evaluation thread is shared with the process's earlier hubs (evaluatorPool.ts).
 */
export function startTestHub(overrides: Partial<HubOptions> = {}): Promise<RunningHub> {
  return startHub(
    {
      ...DEFAULT_HUB_OPTIONS,
      mode: 'async',
      evalIntervalMs: 60_000,
      evalExamples: 2_000,
      knownAnswer: false,
      ...overrides,
    },
    TEST_LISTEN,
  );
}

/** A registered client over a real socket. */
export function connectClient(hub: RunningHub, backend = 'test'): Promise<HubClient> {
  return HubClient.connect({ url: hub.url, backend, ackTimeoutMs: 20_000 });
}

/** Every shard's checksum, in shard order. */
export async function checksums(hub: RunningHub): Promise<string[]> {
  return (await hub.hub.status()).shards.map((s) => s.checksum);
}

/** A deterministic pseudo-random gradient in [-1, 1). */
export function testGradient(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}
