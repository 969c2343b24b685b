/**
 * Names of department and user ids, for sentences a person reads (the why-dialog): one query
 * per kind, only for the ids asked for, never more than 90 bound ids (D1 binds 100). Scoped like
 * every other read: a department admin or staff member learns the names of departments and people
 * in their own subtree, and of the explained contact's own department and owner (which the contact
 * page shows them anyway); any other id in a draft stays a bare id.
 */
import type { SessionUser } from '@shared/api/auth';
import type { IdNames } from '@shared/rules/explain';
import { userScope } from '../auth/access';

async function names(
  db: D1Database,
  user: SessionUser,
  table: 'departments' | 'users',
  ids: number[],
  visible: number | null,
): Promise<Map<number, string>> {
  const some = ids.slice(0, 90);
  if (!some.length) return new Map();
  const scope = userScope(user, table === 'departments' ? 't.id' : 't.department_id');
  const where = scope ? ` AND (${scope.sql} OR t.id = ?)` : '';
  const { results } = await db
    .prepare(`SELECT t.id, t.name FROM ${table} t WHERE t.id IN (${some.map(() => '?').join(', ')})${where}`)
    .bind(...some, ...(scope ? [...scope.params, visible ?? 0] : []))
    .all<{ id: number; name: string }>();
  return new Map(results.map((r) => [r.id, r.name]));
}

/** `IdNames` for these department and owner ids, as `user` may read them about `contact`. */
export async function idNames(
  db: D1Database,
  user: SessionUser,
  ids: { departmentId: number[]; ownerUserId: number[] },
  contact: { departmentId?: unknown; ownerUserId?: unknown },
): Promise<IdNames> {
  const own = (v: unknown) => (typeof v === 'number' ? v : null);
  const [departmentId, ownerUserId] = await Promise.all([
    names(db, user, 'departments', ids.departmentId, own(contact.departmentId)),
    names(db, user, 'users', ids.ownerUserId, own(contact.ownerUserId)),
  ]);
  return { departmentId, ownerUserId };
}
