import type { z } from 'zod';
import { ErrorCode, HubError } from '../../shared/errors.js';

/** The payload as `schema` reads it, or INVALID_MESSAGE naming the event, the field and what is wrong. */
export function parseMessage<S extends z.ZodType>(schema: S, payload: unknown, event: string): z.infer<S> {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HubError(
    ErrorCode.InvalidMessage,
    `${event}: ${issue.path.join('.') || 'payload'}: ${issue.message}`,
  );
}
