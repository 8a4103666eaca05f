/** Messages between the bench and a server child process (serverProcess.ts, ChildServer.ts). */
import type { LinkProfile, RelayLateness, RelayTraffic } from './LinkRelay.js';

export type ServerSpec =
  /** `options`: Partial<HubOptions> as JSON. */
  | { readonly kind: 'hub'; readonly options: Record<string, unknown> }
  | { readonly kind: 'ws-echo' }
  /** A LinkRelay to `target` (http://host:port) over `link` (null: a byte counter). */
  | { readonly kind: 'relay'; readonly target: string; readonly link: LinkProfile | null };

export type ChildRequest =
  /** resetPeak: start a new peak after answering. */
  | { readonly type: 'usage'; readonly id: number; readonly resetPeak?: boolean }
  /** A relay's traffic and lateness so far. */
  | { readonly type: 'relay'; readonly id: number }
  | { readonly type: 'close' };

export type ChildReply =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'failed'; readonly message: string }
  | ({ readonly type: 'usage'; readonly id: number } & ProcessUsage)
  | ({ readonly type: 'relay'; readonly id: number } & RelayState);

/** What crossed a relay so far, and how far behind its link's schedule it wrote. */
export interface RelayState {
  readonly traffic: RelayTraffic;
  readonly lateness: RelayLateness;
}

export interface ProcessUsage {
  /** User + system CPU time of the process since it started, microseconds. */
  readonly cpuMicros: number;
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Largest RSS sampled since the last reset (every 50 ms), bytes. */
  readonly peakRss: number;
}
