/**
 * Who may do what. Every `/api` route but health, sign-in and webhooks needs a session; writes
 * sent with the cookie must echo the session's CSRF token. Roles rank super admin > department
 * admin > staff; department admins and staff act within their department's subtree (`path`
 * prefix), super admins everywhere.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { ROLE_RANK, type Role } from '@shared/domain';
import { CSRF_HEADER, type SessionUser } from '@shared/api/auth';
import { constantTimeEqual } from '@shared/auth/password';
import { clientIp, loadSession, readSessionCookie } from './session';
import type { ContactRow } from '../db/rows';

/** Routes anyone may call: liveness, sign-in, and webhooks (they carry their own signatures). */
function isPublic(path: string): boolean {
  return path === '/api/health' || path === '/api/auth/login' || path.startsWith('/api/webhooks/') || path === '/api/webhooks';
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (isPublic(c.req.path)) return next();
  const token = readSessionCookie(c);
  const session = token ? await loadSession(c.env.DB, token, Date.now()) : null;
  if (!session) {
    const err = new ApiError(401, 'unauthorized', 'Sign in first: this request has no valid session');
    // every signed-out visit asks /api/auth/me once: without a cookie that is no probe (a bad cookie still is)
    if (!token && c.req.method === 'GET' && c.req.path === '/api/auth/me') err.unrecorded = true;
    throw err;
  }
  // set before the CSRF check, so its refusal is logged against the session's user
  c.set('user', session.user);
  if (!SAFE_METHODS.has(c.req.method)) {
    const sent = c.req.header(CSRF_HEADER) ?? '';
    if (!constantTimeEqual(sent, session.csrfToken)) {
      throw new ApiError(403, 'csrf_token_invalid', `A write needs the session's ${CSRF_HEADER} header; it is missing or wrong`);
    }
  }
  c.set('sessionHash', session.tokenHash);
  return next();
};

/**
 * 404 for an object that exists outside the user's department: the client cannot tell it from a
 * missing one, the security log can (`out_of_scope`).
 */
export function outOfScope(noun: string, id: number | string): ApiError {
  const err = new ApiError(404, 'not_found', `No ${noun} with id ${id}`);
  err.securityReason = 'out_of_scope';
  return err;
}

export function hasRole(user: Pick<SessionUser, 'role'>, min: Role): boolean {
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

/** What rights depend on: a role and a department subtree (a signed-in user, or the publisher a rule runs as). */
export type Principal = Pick<SessionUser, 'role' | 'departmentPath'>;

/** Is a department (by its `path`) inside the user's scope? Unassigned objects are super admins' only. */
export function inScope(user: Principal, departmentPath: string | null): boolean {
  if (user.role === 'super_admin') return true;
  if (!user.departmentPath || !departmentPath) return false;
  return departmentPath.startsWith(user.departmentPath);
}

/** A SQL predicate with its bound parameters (the rule SQL's `SqlFrag` shape). */
export interface SqlPredicate {
  sql: string;
  params: unknown[];
}

/** `column` (a department id) is the department at `path` ("/1/2/") or below it. */
export function inDepartmentSubtree(column: string, path: string): SqlPredicate {
  // instr, not LIKE: D1 refuses LIKE patterns over 50 bytes, which a path ten levels deep passes
  return { sql: `${column} IN (SELECT id FROM departments WHERE instr(path, ?) = 1)`, params: [path] };
}

/**
 * The rows a user may see by their department `column`: undefined for a super admin (no
 * restriction), nothing for someone without a department.
 */
export function userScope(user: SessionUser, column: string): SqlPredicate | undefined {
  if (user.role === 'super_admin') return undefined;
  if (!user.departmentPath) return { sql: '0', params: [] };
  return inDepartmentSubtree(column, user.departmentPath);
}

/** The contacts a user may see, as a predicate on `contacts c` (rule and segment SQL take it as a scope). */
export function contactScope(user: SessionUser): SqlPredicate | undefined {
  return userScope(user, 'c.department_id');
}

/** The contact row if it exists and the user may see it; null otherwise (callers answer as if it did not exist). */
export async function findVisibleContact(db: D1Database, user: SessionUser, id: number): Promise<ContactRow | null> {
  const scope = contactScope(user);
  return db
    .prepare(`SELECT * FROM contacts c WHERE c.id = ?${scope ? ` AND ${scope.sql}` : ''}`)
    .bind(id, ...(scope?.params ?? []))
    .first<ContactRow>();
}

/** What decides who may touch a tag group: its roles and its owning department's path (null: company-wide). */
export interface GroupAccess {
  apply_role: Role;
  edit_role: Role;
  department_path: string | null;
}

/** SQL columns giving a `tag_groups g` row's GroupAccess. */
export const GROUP_ACCESS_COLUMNS =
  'g.apply_role, g.edit_role, (SELECT path FROM departments WHERE id = g.department_id) AS department_path';

/**
 * May the user add or remove this group's tags by hand? Their role reaches the group's
 * `apply_role`, and a department's own group is applied within that department only.
 */
export function canApplyGroup(user: Principal, g: GroupAccess): boolean {
  return hasRole(user, g.apply_role) && (g.department_path === null || inScope(user, g.department_path));
}

/**
 * May the user edit the group and its tags (create, rename, retire, merge)? Their role reaches
 * `edit_role`; company-wide groups are edited by super admins only, a department's groups by
 * admins of that department (or above it).
 */
export function canEditGroup(user: SessionUser, g: GroupAccess): boolean {
  if (!hasRole(user, g.edit_role)) return false;
  if (user.role === 'super_admin') return true;
  return g.department_path !== null && inScope(user, g.department_path);
}

/**
 * Rules and segments belong to a department (null: company-wide, super admins only). On
 * `/:id…` routes: outside the user's scope the object does not exist (404, nothing leaks);
 * inside it, staff may read but not change it (403). Non-numeric ids (`/preview`) pass through.
 */
export function departmentOwned(table: 'rules' | 'segments', noun: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = c.req.param('id');
    if (!id || !/^\d{1,15}$/.test(id)) return next();
    const row = await c.env.DB.prepare(`SELECT d.path FROM ${table} t LEFT JOIN departments d ON d.id = t.department_id WHERE t.id = ?`)
      .bind(Number(id))
      .first<{ path: string | null }>();
    if (!row) return next(); // the route answers its own 404
    const user = c.get('user');
    if (!inScope(user, row.path)) throw outOfScope(noun, id);
    if (!SAFE_METHODS.has(c.req.method) && !hasRole(user, 'dept_admin'))
      throw forbidden(user, `staff may read ${noun}s but not change them`);
    c.set('ownerPath', row.path);
    return next();
  };
}

/**
 * The department a new rule or segment belongs to: the one asked for if it is in the user's
 * scope, else the user's own; super admins may leave it company-wide (null).
 */
export async function ownerDepartment(
  db: D1Database,
  user: SessionUser,
  wanted: number | null | undefined,
): Promise<{ id: number | null; path: string | null }> {
  if (wanted === undefined && user.role === 'super_admin') return { id: null, path: null };
  const id = wanted === undefined ? user.departmentId : wanted;
  if (id === null) {
    if (user.role === 'super_admin') return { id: null, path: null };
    throw forbidden(user, 'only super admins own company-wide objects');
  }
  const dept = await db.prepare('SELECT path FROM departments WHERE id = ?').bind(id).first<{ path: string }>();
  if (!dept)
    throw new ApiError(400, 'unknown_reference', `departmentId: no department with id ${id}`, [
      { path: 'departmentId', message: 'no such department' },
    ]);
  if (!inScope(user, dept.path)) throw forbidden(user, `department ${id} is outside your department`);
  return { id, path: dept.path };
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
