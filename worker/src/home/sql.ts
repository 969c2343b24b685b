/**
 * The home's SQL, as text (no Workers types), so bench/home.ts times exactly what the route and
 * the cron run. Reads touch only rollups: `segment_snapshots` / `segment_snapshot_departments`,
 * `department_daily_counts` / `tag_group_daily_coverage`, `rule_activity_hourly`,
 * `intake_hourly`, and two failure tables through their indexes.
 *
 * Department scope: `?` binds a department path ("/1/2/"); a department and everything below it
 * (`instr(path, ?) = 1`, as worker/src/auth/access.ts `inDepartmentSubtree`, not LIKE).
 */

/** Departments of a subtree, by path. */
export const SUBTREE = 'SELECT id FROM departments WHERE instr(path, ?) = 1';

// ---- the cron: written once a day, read by every home ----

/**
 * Today's size of one segment split by its contacts' department (0: none), from one count.
 * Binds: segment id, day, then the segment predicate's own parameters (`{where}` over `contacts c`).
 */
export const SEGMENT_DEPARTMENT_SIZES = (where: string) =>
  `INSERT INTO segment_snapshot_departments (segment_id, day, department_id, size)
   SELECT ?, ?, coalesce(c.department_id, 0), COUNT(*) FROM contacts c WHERE ${where} GROUP BY 3
   ON CONFLICT (segment_id, day, department_id) DO NOTHING`;

/** The department-0 row, so "recorded" never depends on anyone matching. Binds: segment id, day. */
export const SEGMENT_RECORDED = `INSERT INTO segment_snapshot_departments (segment_id, day, department_id, size) VALUES (?, ?, 0, 0)
   ON CONFLICT (segment_id, day, department_id) DO NOTHING`;

/** The segment's total for the day (the size super admins see), summed from the rows above. Binds: segment id, day. */
export const SEGMENT_TOTAL = `INSERT INTO segment_snapshots (segment_id, day, size)
   SELECT ?1, ?2, COALESCE(SUM(size), 0) FROM segment_snapshot_departments WHERE segment_id = ?1 AND day = ?2
   ON CONFLICT (segment_id, day) DO NOTHING`;

/** Has the day's tag coverage been counted? Binds: day. */
export const COVERAGE_DONE = 'SELECT 1 AS done FROM department_daily_counts WHERE day = ? LIMIT 1';

/**
 * Contacts per department holding ≥ 1 active tag of each group. Binds: day. The count walks
 * contact_tags once (by tag, through contact_tags_tag_idx) with each holder's department.
 */
export const COVERAGE_BY_GROUP = `INSERT INTO tag_group_daily_coverage (day, department_id, group_id, contacts)
   SELECT ?, coalesce(c.department_id, 0), t.group_id, COUNT(DISTINCT ct.contact_id)
   FROM tags t JOIN contact_tags ct ON ct.tag_id = t.id JOIN contacts c ON c.id = ct.contact_id
   WHERE t.status = 'active' GROUP BY 2, 3
   ON CONFLICT (day, department_id, group_id) DO NOTHING`;

/** Contacts per department and how many hold any active tag. Binds: day, counted at (ms). */
export const COVERAGE_TOTALS = `INSERT INTO department_daily_counts (day, department_id, contacts, tagged, counted_at)
   SELECT ?, coalesce(c.department_id, 0), COUNT(*),
     SUM(EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = c.id AND t.status = 'active')), ?
   FROM contacts c GROUP BY 2
   ON CONFLICT (day, department_id) DO NOTHING`;

// ---- the home: what GET /api/home runs, in one batch ----
// CROSS JOIN fixes SQLite's join order (segments / rules outside): each visible object's window is
// then a range of the rollup's primary key, instead of a scan of every day ever kept.

/** `scoped`: the caller is a department admin or staff (one extra leading `?`: their path). */
const segmentScope = (scoped: boolean) => (scoped ? `WHERE s.department_id IN (${SUBTREE})` : '');

/** Visible segments. Binds: [path]. */
export const HOME_SEGMENT_LIST = (scoped: boolean) => `SELECT s.id, s.name FROM segments s ${segmentScope(scoped)}`;

/**
 * Daily sizes of visible segments since a day. Super admins: the totals. Others: the sum over
 * their subtree's departments, on days recorded by department. Binds: super (day); scoped
 * (path, day, path).
 */
export const HOME_SEGMENT_SIZES = (scoped: boolean) =>
  scoped
    ? `SELECT d.segment_id AS id, d.day, SUM(CASE WHEN d.department_id IN (${SUBTREE}) THEN d.size ELSE 0 END) AS size
       FROM segments s CROSS JOIN segment_snapshot_departments d ON d.segment_id = s.id AND d.day >= ?
       ${segmentScope(true)} GROUP BY d.segment_id, d.day`
    : `SELECT ss.segment_id AS id, ss.day, ss.size FROM segments s CROSS JOIN segment_snapshots ss ON ss.segment_id = s.id AND ss.day >= ?`;

const deptScope = (scoped: boolean, col: string) => (scoped ? `AND ${col} IN (${SUBTREE})` : '');
const LATEST_COVERAGE_DAY = '(SELECT MAX(day) FROM department_daily_counts)';

/** The newest counted day's contacts and tagged contacts in scope. Binds: [path]. */
export const HOME_COVERAGE_TOTALS = (scoped: boolean) =>
  `SELECT day, SUM(contacts) AS contacts, SUM(tagged) AS tagged, MAX(counted_at) AS counted_at
   FROM department_daily_counts WHERE day = ${LATEST_COVERAGE_DAY} ${deptScope(scoped, 'department_id')} GROUP BY day`;

/** Every tag group with its holders in scope on the newest counted day. Binds: [path]. */
export const HOME_COVERAGE_GROUPS = (scoped: boolean) =>
  `WITH v AS (SELECT group_id, SUM(contacts) AS n FROM tag_group_daily_coverage
     WHERE day = ${LATEST_COVERAGE_DAY} ${deptScope(scoped, 'department_id')} GROUP BY group_id)
   SELECT g.id, g.name, g.color, COALESCE(v.n, 0) AS contacts FROM tag_groups g LEFT JOIN v ON v.group_id = g.id
   ORDER BY g.sort_order, g.id`;

const ruleScope = (scoped: boolean) => (scoped ? `WHERE r.department_id IN (${SUBTREE})` : '');

/** Visible rules and whether each is published. Binds: [path]. */
export const HOME_RULE_LIST = (scoped: boolean) => `SELECT r.id, r.name, r.status FROM rules r ${ruleScope(scoped)}`;

/**
 * Tags added / removed per visible rule per local day since an epoch hour. Binds: tz offset
 * minutes, hour, [path]. Hours fold into local days exactly for whole-hour zones (Asia/Shanghai);
 * the CAST because D1 may bind a JS number as REAL, which would make the division fractional.
 */
export const HOME_RULE_ACTIVITY = (scoped: boolean) =>
  `SELECT a.rule_id AS id, CAST((a.hour * 3600000 + ? * 60000) / 86400000 AS INTEGER) AS day, SUM(a.added) AS added, SUM(a.removed) AS removed
   FROM rules r CROSS JOIN rule_activity_hourly a ON a.rule_id = r.id AND a.hour >= ? ${ruleScope(scoped)} GROUP BY 1, 2`;

/** Events per source per hour since an epoch hour. Binds: hour. */
export const HOME_INTAKE = `SELECT i.source_id AS id, i.hour, i.events, s.name FROM intake_hourly i LEFT JOIN event_sources s ON s.id = i.source_id WHERE i.hour >= ?`;

/** Intake dead letters not requeued, and those of them dead since a time. Binds: since (ms). */
export const HOME_INTAKE_DEAD = `SELECT COUNT(*) AS open, COALESCE(SUM(dead_at >= ?), 0) AS recent FROM intake_dead_letters WHERE requeued_at IS NULL`;

/** Outbound deliveries not delivered, by status (through the partial index deliveries_open_idx). */
export const HOME_OUTBOUND = `SELECT status, COUNT(*) AS n FROM deliveries WHERE status <> 'delivered' GROUP BY status`;

/** One read of the home: its name (for the bench), SQL and parameters. */
export interface HomeRead {
  name: string;
  sql: string;
  params: unknown[];
}

/** What a home read depends on: the viewer's scope and the windows' starts. */
export interface HomeReadOptions {
  /** the viewer's department path; null: a super admin (everything, and intake) */
  path: string | null;
  segmentFromDay: number;
  ruleFromHour: number;
  intakeFromHour: number;
  tzOffsetMinutes: number;
}

/** The home's reads in the order worker/src/home/overview.ts reads their results (intake last, super admins only). */
export function homeReads(o: HomeReadOptions): HomeRead[] {
  const scoped = o.path !== null;
  const p = scoped ? [o.path] : [];
  const reads: HomeRead[] = [
    { name: 'segment list', sql: HOME_SEGMENT_LIST(scoped), params: p },
    { name: 'segment sizes', sql: HOME_SEGMENT_SIZES(scoped), params: scoped ? [o.path, o.segmentFromDay, o.path] : [o.segmentFromDay] },
    { name: 'coverage totals', sql: HOME_COVERAGE_TOTALS(scoped), params: p },
    { name: 'coverage groups', sql: HOME_COVERAGE_GROUPS(scoped), params: p },
    { name: 'rule list', sql: HOME_RULE_LIST(scoped), params: p },
    { name: 'rule activity', sql: HOME_RULE_ACTIVITY(scoped), params: [o.tzOffsetMinutes, o.ruleFromHour, ...p] },
  ];
  if (!scoped) {
    reads.push(
      { name: 'intake per hour', sql: HOME_INTAKE, params: [o.intakeFromHour] },
      { name: 'intake dead letters', sql: HOME_INTAKE_DEAD, params: [o.intakeFromHour * 3_600_000] },
      { name: 'outbound failures', sql: HOME_OUTBOUND, params: [] },
    );
  }
  return reads;
}
