/**
 * Sign-in (`/api/auth/…`): email + password, a server-side session in an HttpOnly SameSite
 * cookie, the session's CSRF token returned to the app, a rate limit on failures, logout, and
 * the user's own sessions (listed, revocable).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { auditStatement, auditStatementIfChanged } from '../audit';
import { actorOf } from '../auth/access';
import { beginSignIn, signInSucceeded } from '../auth/throttle';
import { clearSessionCookie, clientIp, loadSession, newSession, writeSessionCookie } from '../auth/session';
import { changePasswordBody, loginBody, type Me, type SessionSummary } from '@shared/api/auth';
import { hashPassword, randomSalt, verifyPassword } from '@shared/auth/password';
import { emptyBody } from '@shared/api/taxonomy';
import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import { db as drizzleDb } from '../db/client';
import { sessions } from '../db/schema';

interface UserRow {
  id: number;
  email: string;
  password_hash: string | null;
  password_salt: string | null;
  disabled: number;
}

// A fixed salt/hash to verify against when the email is unknown, so both paths take as long.
const DUMMY_SALT = 'c2VnZmxvdy1kdW1teS1zYWx0';

export const auth = new Hono<AppEnv>()
  .post('/login', validate('json', loginBody), async (c) => {
    const { email, password } = c.req.valid('json');
    const db = c.env.DB;
    const ip = clientIp(c);
    const now = Date.now();
    // who a refusal is about, for the security log (there is no user yet)
    c.set('attemptedEmail', email);
    // throttled per (account, address) pair and per address: worker/src/auth/throttle.ts
    const attemptId = await beginSignIn(db, email, ip, now);

    const user = await db
      .prepare('SELECT id, email, password_hash, password_salt, disabled FROM users WHERE email = ?')
      .bind(email)
      .first<UserRow>();
    const ok =
      user?.password_hash && user.password_salt
        ? await verifyPassword(password, user.password_salt, user.password_hash)
        : (await hashPassword(password, DUMMY_SALT), false);
    if (!ok || !user || user.disabled) {
      // the attempt's row stays a failure. One message for unknown email, wrong password and disabled account: no account enumeration.
      throw new ApiError(401, 'unauthorized', 'Email or password is wrong, or the account is disabled');
    }
    const session = await newSession(db, user.id, now, ip, c.req.header('user-agent') ?? null);
    await db.batch([
      session.statement,
      ...signInSucceeded(db, attemptId, email, ip),
      db.prepare('UPDATE users SET last_login_at = ? WHERE id = ?').bind(now, user.id),
      auditStatement(db, {
        actor: { userId: user.id, ip },
        action: 'session.login',
        objectType: 'session',
        objectId: session.tokenHash.slice(0, 16),
        summary: `${user.email} signed in`,
        params: { email: user.email },
        at: now,
      }),
    ]);
    writeSessionCookie(c, session.token);
    const loaded = await loadSession(db, session.token, now);
    return c.json({ user: loaded!.user, csrfToken: session.csrfToken } satisfies Me);
  })
  .get('/me', async (c) => {
    const csrf = await c.env.DB.prepare('SELECT csrf_token FROM sessions WHERE token_hash = ?')
      .bind(c.get('sessionHash'))
      .first<string>('csrf_token');
    return c.json({ user: c.get('user'), csrfToken: csrf ?? '' } satisfies Me);
  })
  .post('/logout', validate('json', emptyBody), async (c) => {
    const db = c.env.DB;
    const now = Date.now();
    await db.batch([
      db.prepare('UPDATE sessions SET revoked_at = ? WHERE token_hash = ?').bind(now, c.get('sessionHash')),
      auditStatement(db, {
        actor: actorOf(c),
        action: 'session.logout',
        objectType: 'session',
        objectId: c.get('sessionHash').slice(0, 16),
        summary: `${c.get('user').email} signed out`,
        params: { email: c.get('user').email },
        at: now,
      }),
    ]);
    clearSessionCookie(c);
    return c.json({ ok: true });
  })
  .get('/sessions', async (c) => {
    const live = await drizzleDb(c.env)
      .select({
        tokenHash: sessions.tokenHash,
        createdAt: sessions.createdAt,
        expiresAt: sessions.expiresAt,
        ip: sessions.ip,
        userAgent: sessions.userAgent,
      })
      .from(sessions)
      .where(and(eq(sessions.userId, c.get('user').id), isNull(sessions.revokedAt), gt(sessions.expiresAt, Date.now())))
      .orderBy(desc(sessions.createdAt));
    return c.json(
      live.map(({ tokenHash, ...s }): SessionSummary => ({
        id: tokenHash.slice(0, 16),
        createdAt: s.createdAt,
        expiresAt: s.expiresAt,
        ip: s.ip,
        userAgent: s.userAgent,
        current: tokenHash === c.get('sessionHash'),
      })),
    );
  })
  .delete(
    '/sessions/:id',
    validate('param', z.strictObject({ id: z.string().regex(/^[0-9a-f]{16}$/, 'must be a session id') })),
    async (c) => {
      const db = c.env.DB;
      const now = Date.now();
      const { id } = c.req.valid('param');
      const [update] = await db.batch([
        db
          .prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND substr(token_hash, 1, 16) = ? AND revoked_at IS NULL')
          .bind(now, c.get('user').id, id),
        // only if the UPDATE revoked one of the caller's sessions: a refused revoke is no success
        auditStatementIfChanged(db, {
          actor: actorOf(c),
          action: 'session.revoke',
          objectType: 'session',
          objectId: id,
          summary: `${c.get('user').email} revoked a session`,
          params: { email: c.get('user').email },
          at: now,
        }),
      ]);
      if (!update!.meta.changes) throw new ApiError(404, 'not_found', `No active session ${id} of yours`);
      return c.json({ ok: true });
    },
  )
  .post('/password', validate('json', changePasswordBody), async (c) => {
    const db = c.env.DB;
    const b = c.req.valid('json');
    const me = c.get('user');
    const row = await db.prepare('SELECT password_hash, password_salt FROM users WHERE id = ?').bind(me.id).first<UserRow>();
    if (!row?.password_hash || !row.password_salt || !(await verifyPassword(b.currentPassword, row.password_salt, row.password_hash))) {
      throw new ApiError(400, 'invalid_request', 'The current password is wrong', [{ path: 'currentPassword', message: 'is wrong' }]);
    }
    const salt = randomSalt();
    const now = Date.now();
    // Every other session ends: a changed password is usually a suspected leak.
    await db.batch([
      db
        .prepare('UPDATE users SET password_hash = ?, password_salt = ? WHERE id = ?')
        .bind(await hashPassword(b.newPassword, salt), salt, me.id),
      db
        .prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND token_hash <> ? AND revoked_at IS NULL')
        .bind(now, me.id, c.get('sessionHash')),
      auditStatement(db, {
        actor: actorOf(c),
        action: 'user.password',
        objectType: 'user',
        objectId: me.id,
        summary: `${me.email} changed their password`,
        params: { email: me.email },
        at: now,
      }),
    ]);
    return c.json({ ok: true });
  });
