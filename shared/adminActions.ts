import { z } from 'zod';
import type { HubErrorBody } from './errors.js';
import { TRAINING_MODES, type TrainingMode } from './protocol.js';

/**
 * Actions that change the run, as the operator sends them: over the dashboard socket
 * (`admin:action`, see dashboardProtocol.ts) or as JSON bodies of POST /api/admin/*. Both sides need
 * the admin token; both validate with these schemas.
 */

/** A learning rate: positive and finite (zod 4's number() already refuses ±Infinity and NaN). */
export const learningRateSchema = z.number().positive();

export const adminActionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('pause') }),
  z.strictObject({ type: z.literal('resume') }),
  z.strictObject({ type: z.literal('learning-rate'), learningRate: learningRateSchema }),
  z.strictObject({ type: z.literal('mode'), mode: z.enum(TRAINING_MODES) }),
  z.strictObject({ type: z.literal('checkpoint') }),
  z.strictObject({ type: z.literal('reset') }),
]);
export type AdminAction = z.infer<typeof adminActionSchema>;
export type AdminActionType = AdminAction['type'];
export const ADMIN_ACTION_TYPES: readonly AdminActionType[] = adminActionSchema.options.map(
  (option) => option.shape.type.value,
);

/** What each action answers when it worked. */
export interface AdminActionResults {
  pause: { paused: true };
  resume: { paused: false };
  'learning-rate': { learningRate: number };
  mode: { mode: TrainingMode };
  /** The file written and the global step it holds. */
  checkpoint: { file: string; globalStep: number };
  reset: { globalStep: number };
}

/** An admin action's refusal: a code from the table in shared/errors.ts. */
export type AdminErrorBody = HubErrorBody;

export type AdminActionReply<T extends AdminActionType = AdminActionType> =
  ({ ok: true } & AdminActionResults[T]) | { ok: false; error: AdminErrorBody };
