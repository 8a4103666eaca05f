/** Messages between the bench and a server child process (serverProcess.ts, ChildServer.ts). */

export type ServerSpec =
  /** `options`: Partial<HubOptions> as JSON. */
  { readonly kind: 'hub'; readonly options: Record<string, unknown> } | { readonly kind: 'ws-echo' };

export type ChildRequest =
  /** resetPeak: start a new peak after answering. */
  { readonly type: 'usage'; readonly id: number; readonly resetPeak?: boolean } | { readonly type: 'close' };

export type ChildReply =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'failed'; readonly message: string }
  | ({ readonly type: 'usage'; readonly id: number } & ProcessUsage);

export interface ProcessUsage {
  /** User + system CPU time of the process since it started, microseconds. */
  readonly cpuMicros: number;
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Largest RSS sampled since the last reset (every 50 ms), bytes. */
  readonly peakRss: number;
}
