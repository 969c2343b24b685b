/**
 * Names of department and user ids, for sentences a person reads (the why-dialog): one query
 * per kind, only for the ids asked for, never more than 100 bound ids (D1's limit).
 */
import type { IdNames } from '@shared/rules/explain';

async function names(db: D1Database, table: 'departments' | 'users', ids: number[]): Promise<Map<number, string>> {
  const some = ids.slice(0, 90);
  if (!some.length) return new Map();
  const { results } = await db
    .prepare(`SELECT id, name FROM ${table} WHERE id IN (${some.map(() => '?').join(', ')})`)
    .bind(...some)
    .all<{ id: number; name: string }>();
  return new Map(results.map((r) => [r.id, r.name]));
}

/** `IdNames` for these department and owner ids. */
export async function idNames(db: D1Database, ids: { departmentId: number[]; ownerUserId: number[] }): Promise<IdNames> {
  const [departmentId, ownerUserId] = await Promise.all([names(db, 'departments', ids.departmentId), names(db, 'users', ids.ownerUserId)]);
  return { departmentId, ownerUserId };
}
