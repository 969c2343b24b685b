/**
 * Departments, a tree by `parent_id` with a materialized `path` ("/1/2/3/") that scoping reads
 * (worker/src/auth/access.ts). Everyone signed in may list them; super admins create, rename
 * and move them. A move rewrites the `path` of the whole subtree in one statement, in the same
 * batch as the new parent and the audit entry, and refuses to put a department under itself.
 */
import { Hono } from 'hono';
import { asc, count, eq } from 'drizzle-orm';
import type { AppEnv } from '../app-env';
import { db } from '../db/client';
import { contacts, departments as departmentsT } from '../db/schema';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { auditInsert, AuditSql, auditStatement } from '../audit';
import { actorOf, requireRole } from '../auth/access';
import { idPath } from '@shared/api/taxonomy';
import { createDepartmentBody, updateDepartmentBody, type Department } from '@shared/api/departments';

interface Row {
  id: number;
  name: string;
  parent_id: number | null;
  path: string;
}

async function getRow(d1: D1Database, id: number, field = 'id'): Promise<Row> {
  const row = await d1.prepare('SELECT id, name, parent_id, path FROM departments WHERE id = ?').bind(id).first<Row>();
  if (!row) {
    if (field === 'id') throw new ApiError(404, 'not_found', `No department with id ${id}`);
    throw new ApiError(400, 'unknown_reference', `No department with id ${id}`, [{ path: field, message: 'no such department' }]);
  }
  return row;
}

async function department(d1: D1Database, id: number): Promise<Department> {
  const row = await d1
    .prepare(
      'SELECT d.id, d.name, d.parent_id AS parentId, (SELECT COUNT(*) FROM contacts c WHERE c.department_id = d.id) AS contacts FROM departments d WHERE d.id = ?',
    )
    .bind(id)
    .first<Department>();
  if (!row) throw new ApiError(404, 'not_found', `No department with id ${id}`);
  return row;
}

async function refuseSiblingName(d1: D1Database, name: string, parentId: number | null, except: number | null) {
  const clash = await d1
    .prepare('SELECT id FROM departments WHERE name = ? AND parent_id IS ? AND id IS NOT ?')
    .bind(name, parentId, except)
    .first<{ id: number }>();
  if (clash) {
    throw new ApiError(409, 'conflict', `A department named "${name}" already exists there (id ${clash.id})`, [
      { path: 'name', message: 'is taken under this parent' },
    ]);
  }
}

const shown = (r: Row) => ({ name: r.name, parentId: r.parent_id, path: r.path });

/** Departments (a tree by parentId) with the number of contacts directly in each. */
export const departments = new Hono<AppEnv>()
  .get('/', async (c) => {
    const d = db(c.env);
    const rows = await d
      .select({ id: departmentsT.id, name: departmentsT.name, parentId: departmentsT.parentId, contacts: count(contacts.id) })
      .from(departmentsT)
      .leftJoin(contacts, eq(contacts.departmentId, departmentsT.id))
      .groupBy(departmentsT.id)
      .orderBy(asc(departmentsT.path));
    return c.json(rows satisfies Department[]);
  })
  .post('/', requireRole('super_admin'), validate('json', createDepartmentBody), async (c) => {
    const b = c.req.valid('json');
    const d1 = c.env.DB;
    const parent = b.parentId === null ? null : await getRow(d1, b.parentId, 'parentId');
    await refuseSiblingName(d1, b.name, b.parentId, null);
    const now = Date.now();
    const prefix = parent?.path ?? '/';
    // The path holds the new id: set in the same batch, from last_insert_rowid().
    const [inserted] = await d1.batch<{ id: number }>([
      d1
        .prepare("INSERT INTO departments (name, parent_id, path, created_at) VALUES (?, ?, '', ?) RETURNING id")
        .bind(b.name, b.parentId, now),
      d1.prepare("UPDATE departments SET path = ? || id || '/' WHERE id = last_insert_rowid()").bind(prefix),
      auditInsert(
        d1,
        {
          at: now,
          actor: actorOf(c),
          action: 'department.create',
          objectType: 'department',
          objectId: new AuditSql('CAST(id AS TEXT)'),
          summary: `Created department ${b.name}${parent ? ` under ${parent.name}` : ''}`,
          params: parent ? { variant: 'under', name: b.name, parent: parent.name } : { variant: 'top', name: b.name },
          after: new AuditSql(`json_object('name', name, 'parentId', parent_id, 'path', path)`),
        },
        { from: 'departments', where: 'id = last_insert_rowid()' },
      ),
    ]);
    return c.json(await department(d1, inserted!.results[0]!.id), 201);
  })
  .patch('/:id', requireRole('super_admin'), validate('param', idPath), validate('json', updateDepartmentBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const d1 = c.env.DB;
    const before = await getRow(d1, id);
    const name = b.name ?? before.name;
    const parentId = b.parentId !== undefined ? b.parentId : before.parent_id;
    const moving = parentId !== before.parent_id;
    let path = before.path;
    let parent: Row | null = null;
    if (moving) {
      if (parentId === id)
        throw new ApiError(409, 'conflict', 'A department cannot be its own parent', [{ path: 'parentId', message: 'is this department' }]);
      parent = parentId === null ? null : await getRow(d1, parentId, 'parentId');
      if (parent && parent.path.startsWith(before.path)) {
        throw new ApiError(409, 'conflict', `Cannot move ${before.name} under ${parent.name}: it is inside ${before.name}'s own subtree`, [
          { path: 'parentId', message: 'is inside this department' },
        ]);
      }
      path = `${parent?.path ?? '/'}${id}/`;
    }
    if (name !== before.name || moving) await refuseSiblingName(d1, name, parentId, id);
    if (name === before.name && !moving) return c.json(await department(d1, id));
    const now = Date.now();
    const statements = [d1.prepare('UPDATE departments SET name = ?, parent_id = ? WHERE id = ?').bind(name, parentId, id)];
    if (moving) {
      // Every department whose path starts with the old one (this one and all below) gets the new prefix.
      statements.push(
        d1
          .prepare('UPDATE departments SET path = ? || substr(path, ?) WHERE substr(path, 1, ?) = ?')
          .bind(path, before.path.length + 1, before.path.length, before.path),
      );
    }
    const what = [
      name !== before.name ? `renamed ${before.name} to ${name}` : null,
      moving ? `moved ${name} under ${parent?.name ?? 'the top level'}` : null,
    ]
      .filter(Boolean)
      .join(', ');
    const base = {
      actor: actorOf(c),
      objectType: 'department' as const,
      objectId: id,
      summary: what.charAt(0).toUpperCase() + what.slice(1),
      before: shown(before),
      after: { name, parentId, path },
      at: now,
    };
    const renamed = name !== before.name;
    statements.push(
      auditStatement(
        d1,
        !moving
          ? { ...base, action: 'department.rename', params: { from: before.name, to: name } }
          : {
              ...base,
              action: 'department.move',
              params: parent
                ? renamed
                  ? { variant: 'rename_under', from: before.name, name, parent: parent.name }
                  : { variant: 'under', name, parent: parent.name }
                : renamed
                  ? { variant: 'rename_top', from: before.name, name }
                  : { variant: 'top', name },
            },
      ),
    );
    await d1.batch(statements);
    return c.json(await department(d1, id));
  });
