import type { AdminAction, AdminActionReply } from '../../shared/adminActions.js';
import { assertNever } from '../../shared/assertNever.js';
import { ErrorCode } from '../../shared/errors.js';
import type { TrainingMode } from '../../shared/protocol.js';

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
 * Carries out a validated admin action, the same for HTTP (POST /api/admin/*) and the dashboard
 * socket. A refusal by the rules is a reply; an unexpected failure is thrown, for the caller to log.
 */
export async function performAdminAction(
  action: AdminAction,
  control: RunControl,
): Promise<AdminActionReply> {
  switch (action.type) {
    case 'pause':
      control.pause();
      return { ok: true, paused: true };
    case 'resume':
      control.resume();
      return { ok: true, paused: false };
    case 'learning-rate':
      await control.setLearningRate(action.learningRate);
      return { ok: true, learningRate: action.learningRate };
    case 'mode':
      await control.setMode(action.mode);
      return { ok: true, mode: action.mode };
    case 'checkpoint': {
      if (!control.checkpointNow) {
        return {
          ok: false,
          error: { code: ErrorCode.NoCheckpoints, message: 'this hub runs without checkpoints' },
        };
      }
      const { file, globalStep } = await control.checkpointNow();
      return { ok: true, file, globalStep };
    }
    case 'reset':
      await control.reset();
      return { ok: true, globalStep: 0 };
    default:
      return assertNever(action);
  }
}
