/**
 * The hub's acks as values or errors: an `{ ok: true }` body is returned, a refusal becomes a
 * HubRequestError with the hub's code. Apart from HubClient because the connection (its hellos) and
 * the requests both read replies this way.
 */
import { ErrorCode, type HubErrorBody } from './errors.js';
import type { Reply } from './protocol.js';

/** A refusal from the hub (named code) or a failure to reach it (code 'UNREACHABLE' / 'TIMEOUT'). */
export class HubRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HubRequestError';
  }
}

/** True when the hub refused because it no longer knows this worker (NOT_REGISTERED). */
export function isNotRegistered(reply: unknown): boolean {
  const body = reply as Reply<object>;
  return !body.ok && (body as Extract<Reply<object>, { ok: false }>).error.code === ErrorCode.NotRegistered;
}

/** The reply's body when the hub said ok; its refusal, thrown as a HubRequestError, otherwise. */
export function unwrap<R extends Reply<object>>(event: string, reply: R): Extract<R, { ok: true }> {
  if (reply.ok) return reply as Extract<R, { ok: true }>;
  const error: HubErrorBody = (reply as Extract<Reply<object>, { ok: false }>).error;
  throw new HubRequestError(error.code, `${event} refused: ${error.code}: ${error.message}`);
}
