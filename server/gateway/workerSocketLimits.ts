/**
 * The socket.io options and per-connection guards of a worker gateway, sized from the model. Apart
 * from createHub because a `--role gateway` process serves workers with exactly the same limits
 * without building a hub.
 */
import type { ServerOptions } from 'socket.io';
import type { HubOptions } from '../options.js';
import { AddressBans } from './AddressBans.js';
import { ConnectionLimits } from './ConnectionLimits.js';

/** Per-connection budgets: far above what an honest worker sends, low enough to stop a flood. */
const MESSAGES_PER_SECOND = 200;
const MIN_BYTES_PER_SECOND = 32 * 1024 * 1024;
const STRIKES_PER_MINUTE = 100;
/** Strike-outs from one address count towards a ban within this window. */
const BAN_WINDOW_SECS = 600;

/** Bytes of socket.io/engine.io framing a push may carry beyond its gradient. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;

/** socket.io's options for workers, sized from the model (floats); a gateway process uses the same. */
export function workerSocketOptions(params: number): Partial<ServerOptions> {
  return {
    transports: ['websocket'],
    // No per-message deflate, as in the raw `ws` arm the bench compares the hub with (bench figure 1).
    // What deflate would cost or save on gradients is not measured in this repository
    // (docs/architecture.md, "Figures the code cited without a measurement in the repository").
    perMessageDeflate: false,
    // The default (1 MB) silently disconnects a socket whose push is larger: size it from the model.
    maxHttpBufferSize: params * 4 + MESSAGE_OVERHEAD_BYTES,
  };
}

/** Per-connection budgets and address bans of a worker gateway, for a model of `params` floats. */
export function workerGuards(
  options: Pick<HubOptions, 'banAfter' | 'banSecs'>,
  params: number,
): { limits: ConnectionLimits; bans: AddressBans } {
  return {
    limits: new ConnectionLimits({
      messagesPerSecond: MESSAGES_PER_SECOND,
      // Room for several whole-model pushes a second from one connection.
      bytesPerSecond: Math.max(MIN_BYTES_PER_SECOND, 16 * params * 4),
      strikesPerMinute: STRIKES_PER_MINUTE,
    }),
    bans: new AddressBans({
      strikeOutsToBan: options.banAfter,
      windowSecs: BAN_WINDOW_SECS,
      banSecs: options.banSecs,
    }),
  };
}
