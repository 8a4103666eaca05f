import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/** A fresh admin token, printed once by the hub at start (unless one is given with --admin-token). */
export function generateAdminToken(): string {
  return randomBytes(18).toString('base64url');
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function isAdminToken(expected: string, offered: unknown): boolean {
  if (typeof offered !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(offered);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Express guard for routes that change the run: `Authorization: Bearer <admin token>`. */
export function requireAdmin(token: string): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const offered = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    if (isAdminToken(token, offered)) {
      next();
      return;
    }
    res.status(401).json({
      code: 'ADMIN_REQUIRED',
      message:
        'this action changes the run: send "Authorization: Bearer <admin token>" (the hub prints it at start)',
    });
  };
}
