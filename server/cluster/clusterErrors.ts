/** Errors of shards reached over NATS, each naming the shard and the subject it answers on. */

/** Nobody subscribes to the shard's subject: its process is not running (or uses another prefix). */
export class ShardUnavailableError extends Error {
  constructor(
    readonly shard: number,
    readonly subject: string,
  ) {
    super(
      `shard ${shard} is not running: nothing answers on NATS subject "${subject}" (no responders). ` +
        `Start its process (--role shard --shard-index ${shard}), or check that it uses the same NATS ` +
        `server and subject prefix.`,
    );
    this.name = 'ShardUnavailableError';
  }
}

export class ShardTimeoutError extends Error {
  constructor(
    readonly shard: number,
    readonly subject: string,
    messageType: string,
    timeoutMs: number,
  ) {
    super(
      `shard ${shard} did not answer "${messageType}" on NATS subject "${subject}" within ${timeoutMs} ms`,
    );
    this.name = 'ShardTimeoutError';
  }
}

/** A message or reply larger than the NATS server accepts (its `max_payload`, 1 MB by default). */
export class NatsPayloadTooLargeError extends Error {
  constructor(
    readonly shard: number,
    readonly subject: string,
    what: string,
    readonly bytes: number,
    readonly maxPayload: number,
  ) {
    super(
      `${what} for shard ${shard} on NATS subject "${subject}" is ${bytes} bytes, above the NATS server's ` +
        `max_payload of ${maxPayload} bytes. Raise max_payload in the nats-server config to at least ` +
        `${bytes} (e.g. "max_payload: ${suggestedLimit(bytes)}", with max_pending at least as large) and ` +
        `restart nats-server.`,
    );
    this.name = 'NatsPayloadTooLargeError';
  }
}

/** The next power-of-two number of MB at or above `bytes`, as nats-server config text ("8MB"). */
export function suggestedLimit(bytes: number): string {
  let mb = 1;
  while (mb * 1024 * 1024 < bytes) mb *= 2;
  return `${mb}MB`;
}
