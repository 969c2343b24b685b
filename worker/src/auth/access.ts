/**
 * Who may do what. Every `/api` route but health, sign-in and webhooks needs a session; writes
 * sent with the cookie must echo the session's CSRF token. Roles rank super admin > department
 * admin > staff; department admins and staff act within their department's subtree (`path`
 * prefix), super admins everywhere.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { ROLE_RANK, type Role } from '../../../shared/src/domain';
import { CSRF_HEADER, type SessionUser } from '../../../shared/src/api/auth';
import { constantTimeEqual } from '../../../shared/src/auth/password';
import { clientIp, loadSession, readSessionCookie } from './session';

/** Routes anyone may call: liveness, sign-in, and webhooks (they carry their own signatures). */
function isPublic(path: string): boolean {
  return path === '/api/health' || path === '/api/auth/login' || path.startsWith('/api/webhooks/') || path === '/api/webhooks';
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (isPublic(c.req.path)) return next();
  const token = readSessionCookie(c);
  const session = token ? await loadSession(c.env.DB, token, Date.now()) : null;
  if (!session) throw new ApiError(401, 'unauthorized', 'Sign in first: this request has no valid session');
  if (!SAFE_METHODS.has(c.req.method)) {
    const sent = c.req.header(CSRF_HEADER) ?? '';
    if (!constantTimeEqual(sent, session.csrfToken)) {
      throw new ApiError(403, 'csrf_token_invalid', `A write needs the session's ${CSRF_HEADER} header; it is missing or wrong`);
    }
  }
  c.set('user', session.user);
  c.set('sessionHash', session.tokenHash);
  return next();
};

export function hasRole(user: SessionUser, min: Role): boolean {
  return ROLE_RANK[user.role] >= ROLE_RANK[min];
}

/** A route only `min` and above may call: 403 for the others. */
export function requireRole(min: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!hasRole(c.get('user'), min)) throw forbidden(c.get('user'), `this needs the ${min} role`);
    return next();
  };
}

export function forbidden(user: SessionUser, why: string): ApiError {
  return new ApiError(403, 'forbidden', `Not allowed for ${user.email} (${user.role}): ${why}`);
}

/** Is a department (by its `path`) inside the user's scope? Unassigned objects are super admins' only. */
export function inScope(user: SessionUser, departmentPath: string | null): boolean {
  if (user.role === 'super_admin') return true;
  if (!user.departmentPath || !departmentPath) return false;
  return departmentPath.startsWith(user.departmentPath);
}

/**
 * The SQL condition restricting `column` (a department id) to the user's scope, with its
 * parameters: empty for a super admin.
 */
export function scopeSql(user: SessionUser, column: string): { sql: string; params: string[] } {
  if (user.role === 'super_admin') return { sql: '', params: [] };
  if (!user.departmentPath) return { sql: ' AND 0', params: [] };
  return { sql: ` AND ${column} IN (SELECT id FROM departments WHERE path LIKE ? || '%')`, params: [user.departmentPath] };
}

/** Who did it and from where, for audit rows. */
export interface Actor {
  userId: number | null;
  ip: string | null;
}

export function actorOf(c: Context<AppEnv>): Actor {
  const user = c.get('user') as SessionUser | undefined;
  return { userId: user?.id ?? null, ip: clientIp(c) };
}
