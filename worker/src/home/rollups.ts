/**
 * The home's daily rollups, written by the Cron Trigger (worker/src/cron/scheduled.ts) the first
 * tick of each local day, like the segment snapshots they extend: counting contacts once a day
 * here is what lets every home request skip them. The hourly rollups (rule activity, intake)
 * need no job: triggers keep them (migration 0020).
 */
import type { SqlFrag } from '@shared/rules/operators';
import { COVERAGE_BY_GROUP, COVERAGE_DONE, COVERAGE_TOTALS, SEGMENT_DEPARTMENT_SIZES, SEGMENT_RECORDED, SEGMENT_TOTAL } from './sql';

/**
 * The statements that record one segment's size for `day`: by department, then the total
 * (`segment_snapshots`) summed from them, so the two can never disagree. For the caller's batch.
 */
export function segmentSnapshotStatements(db: D1Database, segmentId: number, day: number, where: SqlFrag): D1PreparedStatement[] {
  return [
    db.prepare(SEGMENT_DEPARTMENT_SIZES(where.sql)).bind(segmentId, day, ...where.params),
    db.prepare(SEGMENT_RECORDED).bind(segmentId, day),
    db.prepare(SEGMENT_TOTAL).bind(segmentId, day),
  ];
}

/**
 * Counts `day`'s tag coverage per department unless it is counted already (one batch: both
 * tables or neither). Answers whether it counted. Cost: one pass over contact_tags and one over
 * contacts' department index (measured at 1M contacts in bench/home.ts), once a day.
 */
export async function recordCoverage(db: D1Database, day: number, at: number): Promise<boolean> {
  if (await db.prepare(COVERAGE_DONE).bind(day).first()) return false;
  await db.batch([db.prepare(COVERAGE_BY_GROUP).bind(day), db.prepare(COVERAGE_TOTALS).bind(day, at)]);
  return true;
}
