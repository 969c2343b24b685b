/**
 * People (`/api/users`, super admins only): list, create with an initial password, change role,
 * department, name or password, disable, and end every session of a user. A disabled user's
 * sessions stop working at once (sessions are checked against `users.disabled`).
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { auditStatement, auditStatementForNewRow } from '../audit';
import { actorOf, requireRole } from '../auth/access';
import { createUserBody, updateUserBody, type UserSummary } from '@shared/api/auth';
import { idPath, emptyBody } from '@shared/api/taxonomy';
import { hashPassword, randomSalt } from '@shared/auth/password';
import { eq, sql } from 'drizzle-orm';
import { db as drizzleDb, type Db } from '../db/client';
import { departments, users as usersT } from '../db/schema';
import { keyCreated, keyStatements } from '../search/keys';
import { parseJsonOr } from '@shared/json';

/** People as the screen lists them, with their department's name and their live sessions now. */
function selectUsers(d: Db, now: number) {
  return d
    .select({
      id: usersT.id,
      email: usersT.email,
      name: usersT.name,
      role: usersT.role,
      departmentId: usersT.departmentId,
      departmentName: departments.name,
      disabled: usersT.disabled,
      createdAt: usersT.createdAt,
      lastLoginAt: usersT.lastLoginAt,
      activeSessions: sql<number>`(SELECT count(*) FROM sessions s WHERE s.user_id = ${usersT.id} AND s.revoked_at IS NULL AND s.expires_at > ${now})`,
      searchKeys: sql<
        string[]
      >`(SELECT json_group_array(k.key) FROM search_keys k WHERE k.kind = 'user' AND k.ref_id = ${usersT.id} AND k.key GLOB '[a-z0-9]*')`.mapWith(
        (v: string) => parseJsonOr<string[]>(v, []),
      ),
    })
    .from(usersT)
    .leftJoin(departments, eq(departments.id, usersT.departmentId));
}

async function getUser(env: Env, id: number): Promise<UserSummary> {
  const user = await selectUsers(drizzleDb(env), Date.now()).where(eq(usersT.id, id)).get();
  if (!user) throw new ApiError(404, 'not_found', `No user with id ${id}`);
  return user;
}

async function requireDepartment(env: Env, id: number | null | undefined) {
  if (id == null) return;
  const found = await drizzleDb(env).select({ id: departments.id }).from(departments).where(eq(departments.id, id)).get();
  if (!found)
    throw new ApiError(400, 'unknown_reference', `No department with id ${id}`, [{ path: 'departmentId', message: 'no such department' }]);
}

export const users = new Hono<AppEnv>()
  .use(requireRole('super_admin'))
  .get('/', async (c) => {
    const list = await selectUsers(drizzleDb(c.env), Date.now()).orderBy(
      sql`${usersT.role} = 'super_admin' DESC`,
      sql`${usersT.role} = 'dept_admin' DESC`,
      usersT.id,
    );
    return c.json(list satisfies UserSummary[]);
  })
  .post('/', validate('json', createUserBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    if (b.role !== 'super_admin' && b.departmentId == null) {
      throw new ApiError(400, 'invalid_request', 'Department admins and staff need a department', [
        { path: 'departmentId', message: 'is required for this role' },
      ]);
    }
    await requireDepartment(c.env, b.departmentId);
    if (await db.prepare('SELECT 1 FROM users WHERE email = ?').bind(b.email).first()) {
      throw new ApiError(409, 'conflict', `A user with email ${b.email} exists`, [{ path: 'email', message: 'is taken' }]);
    }
    const salt = randomSalt();
    const now = Date.now();
    const [inserted] = await db.batch<{ id: number }>([
      db
        .prepare(
          'INSERT INTO users (email, name, role, department_id, password_hash, password_salt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
        )
        .bind(b.email, b.name, b.role, b.departmentId, await hashPassword(b.password, salt), salt, now),
      auditStatementForNewRow(db, {
        actor: actorOf(c),
        action: 'user.create',
        objectType: 'user',
        summary: `Created ${b.role} ${b.email}`,
        params: { email: b.email, role: b.role },
        after: { email: b.email, name: b.name, role: b.role, departmentId: b.departmentId },
        at: now,
      }),
    ]);
    await keyCreated(db, 'user', [{ id: inserted!.results[0]!.id, name: b.name }]);
    return c.json(await getUser(c.env, inserted!.results[0]!.id), 201);
  })
  .patch('/:id', validate('param', idPath), validate('json', updateUserBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const me = c.get('user');
    const before = await getUser(c.env, id);
    if (id === me.id && ((b.role && b.role !== 'super_admin') || b.disabled)) {
      throw new ApiError(409, 'conflict', 'You cannot demote or disable yourself: ask another super admin', [
        { path: b.disabled ? 'disabled' : 'role', message: 'not on your own account' },
      ]);
    }
    await requireDepartment(c.env, b.departmentId);
    const role = b.role ?? before.role;
    const departmentId = b.departmentId !== undefined ? b.departmentId : before.departmentId;
    if (role !== 'super_admin' && departmentId == null) {
      throw new ApiError(400, 'invalid_request', 'Department admins and staff need a department', [
        { path: 'departmentId', message: 'is required for this role' },
      ]);
    }
    const now = Date.now();
    const salt = b.password ? randomSalt() : null;
    const statements = [
      db
        .prepare('UPDATE users SET name = ?, role = ?, department_id = ?, disabled = ? WHERE id = ?')
        .bind(b.name ?? before.name, role, departmentId, (b.disabled ?? before.disabled) ? 1 : 0, id),
      ...keyStatements(db, 'user', [{ id, name: b.name ?? before.name }]),
    ];
    if (b.password && salt) {
      statements.push(
        db
          .prepare('UPDATE users SET password_hash = ?, password_salt = ? WHERE id = ?')
          .bind(await hashPassword(b.password, salt), salt, id),
      );
    }
    // A new password, a lost role or a disabled account ends the user's sessions.
    if (
      b.password ||
      b.disabled ||
      (b.role && b.role !== before.role) ||
      (b.departmentId !== undefined && b.departmentId !== before.departmentId)
    ) {
      statements.push(db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').bind(now, id));
    }
    const { password: _secret, ...shown } = b;
    statements.push(
      auditStatement(db, {
        actor: actorOf(c),
        action: 'user.update',
        objectType: 'user',
        objectId: id,
        summary: `Edited user ${before.email}${b.password ? ' (new password)' : ''}`,
        params: { variant: b.password ? 'password' : 'edit', email: before.email },
        before: { name: before.name, role: before.role, departmentId: before.departmentId, disabled: before.disabled },
        after: { name: before.name, role: before.role, departmentId: before.departmentId, disabled: before.disabled, ...shown },
        at: now,
      }),
    );
    await db.batch(statements);
    return c.json(await getUser(c.env, id));
  })
  .post('/:id/revoke-sessions', validate('param', idPath), validate('json', emptyBody), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const user = await getUser(c.env, id);
    const now = Date.now();
    const [update] = await db.batch([
      db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?').bind(now, id, now),
      auditStatement(db, {
        actor: actorOf(c),
        action: 'user.revoke_sessions',
        objectType: 'user',
        objectId: id,
        summary: `Ended every session of ${user.email}`,
        params: { email: user.email },
        at: now,
      }),
    ]);
    return c.json({ revoked: update!.meta.changes });
  });
