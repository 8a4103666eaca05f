import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface ConnectionLimitOptions {
  /** Messages one socket may send per second (a burst of this many is fine). */
  readonly messagesPerSecond: number;
  /** Binary payload bytes one socket may send per second. */
  readonly bytesPerSecond: number;
  /** Refusals a socket may earn per minute before it is disconnected. */
  readonly strikesPerMinute: number;
}

/**
 * Per-connection budgets, kept by rate-limiter-flexible: a message rate, a byte rate, and strikes
 * (refusals the client brought on itself). Keys are socket ids; budgets refill over time.
 */
export class ConnectionLimits {
  private readonly messages: RateLimiterMemory;
  private readonly bytes: RateLimiterMemory;
  private readonly strikes: RateLimiterMemory;

  constructor(options: ConnectionLimitOptions) {
    this.messages = new RateLimiterMemory({
      keyPrefix: 'messages',
      points: options.messagesPerSecond,
      duration: 1,
    });
    this.bytes = new RateLimiterMemory({ keyPrefix: 'bytes', points: options.bytesPerSecond, duration: 1 });
    this.strikes = new RateLimiterMemory({
      keyPrefix: 'strikes',
      points: options.strikesPerMinute,
      duration: 60,
    });
  }

  /** False when the message goes over the socket's message or byte budget. */
  async admit(socketId: string, bytes: number): Promise<boolean> {
    return (
      (await within(this.messages, socketId, 1)) &&
      (bytes === 0 || (await within(this.bytes, socketId, bytes)))
    );
  }

  /** Counts a refusal the client brought on itself; true when the socket has used up its strikes. */
  async strike(socketId: string): Promise<boolean> {
    return !(await within(this.strikes, socketId, 1));
  }

  async forget(socketId: string): Promise<void> {
    await Promise.all([this.messages, this.bytes, this.strikes].map((limiter) => limiter.delete(socketId)));
  }
}

async function within(limiter: RateLimiterMemory, key: string, points: number): Promise<boolean> {
  try {
    await limiter.consume(key, points);
    return true;
  } catch (result) {
    if (result instanceof RateLimiterRes) return false;
    throw result;
  }
}
