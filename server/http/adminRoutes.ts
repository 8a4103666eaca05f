import express, { type Express } from 'express';
import { learningRateBodySchema, modeBodySchema } from '../../shared/adminActions.js';
import { ErrorCode } from '../../shared/errors.js';
import type { TrainingMode } from '../../shared/protocol.js';
import { requireAdmin } from './adminAuth.js';

/** What an operator may change in a running hub. Every action needs the admin token. */
export interface RunControl {
  pause(): void;
  resume(): void;
  setLearningRate(learningRate: number): Promise<void>;
  /** Switches between async and sync training; workers follow on their next pull. */
  setMode(mode: TrainingMode): Promise<void>;
  /** Starts the run over: fresh weights and optimizer state, step 0, an empty history. */
  reset(): Promise<void>;
  /** Absent when the hub keeps no checkpoints. */
  readonly checkpointNow?: () => Promise<{ file: string; globalStep: number }>;
}

/**
 * POST /api/admin/{pause,resume,learning-rate,mode,checkpoint,reset}, each behind the admin token. Volunteers
 * and viewers can read everything (status, metrics, dashboard) and change nothing.
 */
export function mountAdminRoutes(app: Express, token: string, control: RunControl): void {
  const admin = express.Router();
  admin.use(requireAdmin(token));
  admin.use(express.json({ limit: '1kb' }));

  admin.post('/pause', (_req, res) => {
    control.pause();
    res.json({ ok: true, paused: true });
  });
  admin.post('/resume', (_req, res) => {
    control.resume();
    res.json({ ok: true, paused: false });
  });
  admin.post('/learning-rate', async (req, res) => {
    // The same schema as the dashboard socket's learning-rate action.
    const body = learningRateBodySchema.safeParse(req.body);
    if (!body.success) {
      res
        .status(400)
        .json({ code: 'INVALID_MESSAGE', message: 'send JSON {"learningRate": <positive number>}' });
      return;
    }
    const { learningRate } = body.data;
    await control.setLearningRate(learningRate);
    res.json({ ok: true, learningRate });
  });
  admin.post('/mode', async (req, res) => {
    const body = modeBodySchema.safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ code: 'INVALID_MESSAGE', message: 'send JSON {"mode": "async" | "sync"}' });
      return;
    }
    const { mode } = body.data;
    await control.setMode(mode);
    res.json({ ok: true, mode });
  });
  admin.post('/reset', async (_req, res) => {
    await control.reset();
    res.json({ ok: true, globalStep: 0 });
  });
  admin.post('/checkpoint', async (_req, res) => {
    if (!control.checkpointNow) {
      res.status(409).json({ code: ErrorCode.NoCheckpoints, message: 'this hub runs without checkpoints' });
      return;
    }
    try {
      res.json({ ok: true, ...(await control.checkpointNow()) });
    } catch (error) {
      console.error('hub: checkpoint on request failed:', error);
      res
        .status(500)
        .json({ code: 'INTERNAL', message: 'the checkpoint could not be written; see the hub log' });
    }
  });
  app.use('/api/admin', admin);
}
