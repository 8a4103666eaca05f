import express, { type Express } from 'express';
import { TRAINING_MODES, type TrainingMode } from '../../shared/protocol.js';
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
    const learningRate = (req.body as { learningRate?: unknown } | undefined)?.learningRate;
    if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate <= 0) {
      res
        .status(400)
        .json({ code: 'INVALID_MESSAGE', message: 'send JSON {"learningRate": <positive number>}' });
      return;
    }
    await control.setLearningRate(learningRate);
    res.json({ ok: true, learningRate });
  });
  admin.post('/mode', async (req, res) => {
    const mode = (req.body as { mode?: unknown } | undefined)?.mode;
    if (!TRAINING_MODES.includes(mode as TrainingMode)) {
      res.status(400).json({ code: 'INVALID_MESSAGE', message: 'send JSON {"mode": "async" | "sync"}' });
      return;
    }
    await control.setMode(mode as TrainingMode);
    res.json({ ok: true, mode });
  });
  admin.post('/reset', async (_req, res) => {
    await control.reset();
    res.json({ ok: true, globalStep: 0 });
  });
  admin.post('/checkpoint', async (_req, res) => {
    if (!control.checkpointNow) {
      res.status(409).json({ code: 'NO_CHECKPOINTS', message: 'this hub runs without checkpoints' });
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
