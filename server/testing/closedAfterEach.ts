import { afterEach } from 'vitest';
import type { HubClient } from '../../shared/HubClient.js';
import type { RunningHub } from '../startHub.js';

/** The hub and clients one test opens; `close()` shuts them all (and is safe to call twice). */
export class OpenedInTest {
  hub: RunningHub | undefined;
  clients: HubClient[] = [];

  async close(): Promise<void> {
    this.clients.forEach((c) => c.close());
    this.clients = [];
    await this.hub?.close();
    this.hub = undefined;
  }
}

/** What a test opens here is closed after it, whether it passed or failed. */
export function closedAfterEach(): OpenedInTest {
  const opened = new OpenedInTest();
  afterEach(() => opened.close());
  return opened;
}
