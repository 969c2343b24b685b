/**
 * `GET /api/home` (every signed-in role): the first screen's numbers, scoped to what the caller
 * may see — super admins everything; department admins and staff the contacts, segments and
 * rules of their department subtree (intake is company-wide plumbing: super admins only).
 *
 * Everything comes from small rollups (worker/src/home/), never from a scan of contacts:
 * segment sizes from the cron's daily snapshots, tag coverage from the cron's daily count, rule
 * activity and intake from hourly counters kept by triggers on the ledger and on events.
 * Days are local days (`TIMEZONE`) as day numbers (`shared/src/time.ts` `dayNumber`).
 */

/** Segments drawn as lines; the rest are listed with their latest size. */
export const HOME_TOP_SEGMENTS = 8;
/** Days of segment history on the home. */
export const HOME_SEGMENT_DAYS = 90;
/** Days of rule activity on the home. */
export const HOME_RULE_DAYS = 30;
/** Hours of intake on the home. */
export const HOME_INTAKE_HOURS = 48;

/** One segment's daily sizes, aligned with `HomeSegments.days` (null: no snapshot that day). */
export interface HomeSegmentSeries {
  id: number;
  name: string;
  sizes: (number | null)[];
  /** the newest snapshot's size (null: never snapshotted) */
  latest: number | null;
}

export interface HomeSegments {
  /** day numbers, oldest first, ending today */
  days: number[];
  /** the `HOME_TOP_SEGMENTS` largest by latest size, largest first */
  top: HomeSegmentSeries[];
  /** every other visible segment, largest first (no history sent) */
  rest: { id: number; name: string; latest: number | null }[];
}

export interface HomeCoverageGroup {
  id: number;
  name: string;
  color: string;
  /** contacts holding at least one active tag of the group */
  contacts: number;
}

export interface HomeCoverage {
  /** the day counted (null: the cron has not counted yet) and when */
  day: number | null;
  countedAt: number | null;
  /** contacts the viewer may see, as counted that day */
  contacts: number;
  /** of them, holding no active tag at all */
  untagged: number;
  groups: HomeCoverageGroup[];
}

export interface HomeRuleSeries {
  id: number;
  name: string;
  /** per day of `HomeRules.days` */
  added: number[];
  removed: number[];
  totalAdded: number;
  totalRemoved: number;
}

export interface HomeRules {
  days: number[];
  /** rules with any activity in the window, most active first */
  series: HomeRuleSeries[];
  /** visible rules now published (active or not in the window) */
  published: number;
}

export interface HomeIntakeSource {
  id: string;
  /** null: events under a source id that is not registered (e.g. the demo's) */
  name: string | null;
  /** per hour of `HomeIntake.hours` */
  counts: number[];
  total: number;
}

export interface HomeIntake {
  /** epoch ms of each hour's start, oldest first, ending with the current hour */
  hours: number[];
  sources: HomeIntakeSource[];
  /** intake dead letters not requeued: all, and those dead in the window */
  intakeDeadLetters: { open: number; recent: number };
  /** outbound deliveries dead (retries exhausted) and waiting for a retry (failed or requeued) */
  outbound: { dead: number; waiting: number };
  /**
   * Messages waiting on the Cloudflare queues: always null — a Worker has no binding that reads
   * a queue's backlog (only Cloudflare's dashboard and account API do), so it is not invented.
   */
  queueDepth: null;
}

export interface HomeResponse {
  /** local day number of today, and the zone's offset the days are counted in */
  today: number;
  tzOffsetMinutes: number;
  segments: HomeSegments;
  coverage: HomeCoverage;
  rules: HomeRules;
  /** null for department admins and staff: sources are company-wide and super admins' */
  intake: HomeIntake | null;
  /** wall ms the server spent on the queries */
  tookMs: number;
}
