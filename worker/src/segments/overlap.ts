/**
 * How two segments overlap, counted now in one pass over the contacts the viewer may see: each
 * segment's membership is its own stored predicate (the WHERE its size is counted with, see
 * ./visible.ts), turned into 0/1 with `CASE WHEN`, which treats NULL as "not a member" exactly as
 * a WHERE does. So `a` here is the size the segments list shows the same viewer.
 */
import type { SegmentOverlapResponse } from '@shared/api/segments';
import type { SqlFrag } from '@shared/rules/operators';
import { ApiError } from '../errors';

/** D1 binds at most 100 parameters per statement. */
const MAX_PARAMS = 100;

export async function overlapCounts(
  db: D1Database,
  a: SqlFrag,
  b: SqlFrag,
  scope: SqlFrag | undefined,
): Promise<Pick<SegmentOverlapResponse, 'both' | 'either' | 'onlyA' | 'onlyB'> & { a: number; b: number }> {
  const params = [...a.params, ...b.params, ...(scope?.params ?? [])];
  if (params.length > MAX_PARAMS)
    throw new ApiError(
      409,
      'conflict',
      `These two segments are too large to compare in one count (${params.length} values, at most ${MAX_PARAMS})`,
      [{ path: 'with', message: 'too many values to compare' }],
    );
  const row = await db
    .prepare(
      `SELECT COALESCE(SUM(a), 0) AS a, COALESCE(SUM(b), 0) AS b, COALESCE(SUM(a * b), 0) AS both, COALESCE(SUM(MAX(a, b)), 0) AS either
       FROM (SELECT CASE WHEN (${a.sql}) THEN 1 ELSE 0 END AS a, CASE WHEN (${b.sql}) THEN 1 ELSE 0 END AS b
             FROM contacts c${scope ? ` WHERE ${scope.sql}` : ''})`,
    )
    .bind(...params)
    .first<{ a: number; b: number; both: number; either: number }>();
  const r = row ?? { a: 0, b: 0, both: 0, either: 0 };
  return { a: r.a, b: r.b, both: r.both, either: r.either, onlyA: r.a - r.both, onlyB: r.b - r.both };
}
