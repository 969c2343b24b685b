/**
 * A segment's size history for one viewer, from the cron's daily snapshots (never a count of
 * contacts): super admins read the totals (`segment_snapshots`), department admins and staff
 * the sum of their department subtree's rows (`segment_snapshot_departments`), as the home's
 * chart does (worker/src/home/sql.ts), so both pages draw the same line.
 */
import type { SessionUser } from '@shared/api/auth';
import type { SegmentHistoryResponse } from '@shared/api/segments';
import { dayNumber } from '@shared/time';
import { SUBTREE } from '../home/sql';

/** Sizes since a day. Binds: segment id, first day. */
const TOTALS = 'SELECT day, size FROM segment_snapshots WHERE segment_id = ? AND day >= ? ORDER BY day';
/** The subtree's share per day, on days recorded by department. Binds: path, segment id, first day. */
const SCOPED = `SELECT day, SUM(CASE WHEN department_id IN (${SUBTREE}) THEN size ELSE 0 END) AS size
  FROM segment_snapshot_departments WHERE segment_id = ? AND day >= ? GROUP BY day ORDER BY day`;

export async function segmentHistory(
  db: D1Database,
  user: SessionUser,
  segmentId: number,
  opts: { now: number; tzOffsetMinutes: number; days: number },
): Promise<SegmentHistoryResponse> {
  const today = dayNumber(opts.now, opts.tzOffsetMinutes);
  const first = today - opts.days + 1;
  const days = Array.from({ length: opts.days }, (_, i) => first + i);
  const stmt =
    user.role === 'super_admin'
      ? db.prepare(TOTALS).bind(segmentId, first)
      : // someone without a department sees nothing of a department's (as userScope's '0')
        db.prepare(SCOPED).bind(user.departmentPath ?? '\u0000none', segmentId, first);
  const { results } = await stmt.all<{ day: number; size: number }>();
  const sizes = days.map((): number | null => null);
  for (const r of results) if (r.day - first < days.length) sizes[r.day - first] = r.size;
  return { segmentId, days, sizes, tzOffsetMinutes: opts.tzOffsetMinutes };
}
