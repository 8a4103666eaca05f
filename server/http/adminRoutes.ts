import express, { type Express } from 'express';
import { ADMIN_ACTION_TYPES, adminActionSchema, type AdminActionType } from '../../shared/adminActions.js';
import { ErrorCode } from '../../shared/errors.js';
import { requireAdmin } from './adminAuth.js';
import { performAdminAction, type RunControl } from './runControl.js';

/** What each action's JSON body holds, for the message of a 400. */
const BODY_HINTS: Partial<Record<AdminActionType, string>> = {
  'learning-rate': '{"learningRate": <positive number>}',
  mode: '{"mode": "async" | "sync"}',
};

/**
 * POST /api/admin/{pause,resume,learning-rate,mode,checkpoint,reset}, each behind the admin token,
 * validated with the dashboard socket's schema and carried out by the same performAdminAction.
 * Volunteers and viewers can read everything (status, metrics, dashboard) and change nothing.
 * An unexpected failure reaches the hub's internalErrors handler (500, no details).
 */
export function mountAdminRoutes(app: Express, token: string, control: RunControl): void {
  const admin = express.Router();
  admin.use(requireAdmin(token));
  admin.use(express.json({ limit: '1kb' }));
  admin.post('/:action', async (req, res, next) => {
    const type = req.params.action as AdminActionType;
    if (!ADMIN_ACTION_TYPES.includes(type)) {
      next();
      return;
    }
    const body: unknown = req.body ?? {};
    const parsed = adminActionSchema.safeParse(
      typeof body === 'object' && !Array.isArray(body) ? { ...body, type } : null,
    );
    if (!parsed.success) {
      const hint = BODY_HINTS[type];
      res.status(400).json({
        code: ErrorCode.InvalidMessage,
        message: hint ? `send JSON ${hint}` : `${type} takes no body`,
      });
      return;
    }
    const reply = await performAdminAction(parsed.data, control);
    if (reply.ok) res.json(reply);
    else res.status(409).json(reply.error);
  });
  app.use('/api/admin', admin);
}
