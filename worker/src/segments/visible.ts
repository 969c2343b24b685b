/**
 * The segment a viewer asks for, if they may see it: as `departmentOwned` decides for `/:id`
 * (worker/src/auth/access.ts), a segment outside the viewer's department subtree does not exist
 * for them (404, the security log says `out_of_scope`). Its stored predicate compiled to the
 * SQL WHERE its size is counted with.
 */
import type { SessionUser } from '@shared/api/auth';
import type { SqlFrag } from '@shared/rules/operators';
import type { JsonLogic } from '@shared/rules/types';
import { compileWhere } from '@shared/rules/sql';
import { parseJsonOr } from '@shared/json';
import { ApiError } from '../errors';
import { inScope, outOfScope } from '../auth/access';
import { previewContext } from '../rules/context';

export interface VisibleSegment {
  id: number;
  name: string;
  logic: string;
}

/** The segment, or a 404 when it does not exist or is outside the viewer's scope. */
export async function visibleSegment(db: D1Database, user: SessionUser, id: number): Promise<VisibleSegment> {
  const row = await db
    .prepare('SELECT s.id, s.name, s.logic, d.path FROM segments s LEFT JOIN departments d ON d.id = s.department_id WHERE s.id = ?')
    .bind(id)
    .first<VisibleSegment & { path: string | null }>();
  if (!row) throw new ApiError(404, 'not_found', `No segment with id ${id}`);
  if (!inScope(user, row.path)) throw outOfScope('segment', id);
  return { id: row.id, name: row.name, logic: row.logic };
}

/**
 * The segment's audience as SQL over `contacts c` at `now` (the predicate the list counts with,
 * worker/src/rules/preview.ts countWhere), or a 409 when it has none (a draft that does not
 * compile) or cannot be evaluated in SQL.
 */
export function segmentPredicate(seg: VisibleSegment, env: { TIMEZONE?: string }, now: number): SqlFrag {
  const logic = parseJsonOr<JsonLogic | null>(seg.logic, null);
  if (logic === null)
    throw new ApiError(409, 'conflict', `Segment ${seg.name} has no valid audience yet: finish its canvas first`, [
      { path: 'id', message: 'segment does not compile' },
    ]);
  const w = compileWhere(logic, previewContext(env, now));
  if (!w.ok)
    throw new ApiError(409, 'conflict', `Segment ${seg.name} cannot be evaluated: ${w.errors.map((e) => e.message).join('; ')}`, [
      { path: 'id', message: 'segment does not compile' },
    ]);
  return w.value;
}
