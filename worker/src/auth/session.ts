/**
 * Server-side sessions. The cookie holds a random 256-bit token; the table keeps its SHA-256, so
 * a leaked database does not yield live sessions. Each session has its own CSRF token, which the
 * web app echoes in `X-CSRF-Token` on writes (the cookie is also SameSite=Strict).
 */
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import type { SessionUser } from '@shared/api/auth';
import type { Role } from '@shared/domain';
import { sha256Hex } from '../crypto/sha256';

export const SESSION_COOKIE = 'segflow_session';
export const SESSION_TTL_MS = 7 * 86_400_000;

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** The client's address as Cloudflare reports it (absent under tests and some local setups). */
export function clientIp(c: Context): string {
  return c.req.header('cf-connecting-ip') ?? c.req.header('x-real-ip') ?? 'local';
}

export interface NewSession {
  token: string;
  tokenHash: string;
  csrfToken: string;
  statement: D1PreparedStatement;
}

/** A session for `userId`; the caller runs `statement` (in a batch with the login's other writes). */
export async function newSession(db: D1Database, userId: number, at: number, ip: string, userAgent: string | null): Promise<NewSession> {
  const token = randomToken();
  const tokenHash = await sha256Hex(token);
  const csrfToken = randomToken();
  const statement = db
    .prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at, ip, user_agent, csrf_token) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .bind(tokenHash, userId, at, at + SESSION_TTL_MS, ip, userAgent?.slice(0, 300) ?? null, csrfToken);
  return { token, tokenHash, csrfToken, statement };
}

export interface LoadedSession {
  user: SessionUser;
  tokenHash: string;
  csrfToken: string;
}

interface SessionRow {
  token_hash: string;
  csrf_token: string;
  id: number;
  email: string;
  name: string;
  role: Role;
  department_id: number | null;
  department_name: string | null;
  department_path: string | null;
}

/** The live session for a cookie token: not expired, not revoked, its user not disabled. */
export async function loadSession(db: D1Database, token: string, at: number): Promise<LoadedSession | null> {
  const row = await db
    .prepare(
      `SELECT s.token_hash, s.csrf_token, u.id, u.email, u.name, u.role, u.department_id,
              d.name AS department_name, d.path AS department_path
         FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN departments d ON d.id = u.department_id
        WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.disabled = 0`,
    )
    .bind(await sha256Hex(token), at)
    .first<SessionRow>();
  if (!row) return null;
  return {
    tokenHash: row.token_hash,
    csrfToken: row.csrf_token,
    user: {
      id: row.id,
      email: row.email,
      name: row.name,
      role: row.role,
      departmentId: row.department_id,
      departmentName: row.department_name,
      departmentPath: row.department_path,
    },
  };
}

export function readSessionCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

export function writeSessionCookie(c: Context, token: string) {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: new URL(c.req.url).protocol === 'https:',
    path: '/',
    maxAge: SESSION_TTL_MS / 1000,
  });
}

export function clearSessionCookie(c: Context) {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
}
