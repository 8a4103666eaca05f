import type { ErrorRequestHandler } from 'express';
import { ErrorCode, HubError } from '../../shared/errors.js';

/**
 * The last handler: an unexpected failure in any route answers 500 with a named code and no details
 * (Express's own handler would send the stack trace); the details go to the hub's log.
 */
export function internalErrors(logError: (message: string, error: unknown) => void): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof HubError && error.code === ErrorCode.ShardUnavailable) {
      // A remote shard restarting: no bug, and the hub's log has already said so.
      res.status(503).json(error.toBody());
      return;
    }
    logError(`${req.method} ${req.path} failed`, error);
    res.status(500).json({ code: 'INTERNAL', message: 'internal error in the hub; see its log' });
  };
}
