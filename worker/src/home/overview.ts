/**
 * The home's numbers for one viewer (`GET /api/home`): one D1 batch of reads over the rollups in
 * ./sql.ts, shaped into series the charts draw as they are. Scope follows the rest of the API:
 * super admins see everything; department admins and staff the segments, rules and contacts of
 * their department subtree (worker/src/auth/access.ts), and no intake (sources are super admins').
 */
import type { SessionUser } from '@shared/api/auth';
import {
  HOME_INTAKE_HOURS,
  HOME_RULE_DAYS,
  HOME_SEGMENT_DAYS,
  HOME_TOP_SEGMENTS,
  type HomeCoverage,
  type HomeIntake,
  type HomeResponse,
  type HomeRules,
  type HomeSegments,
} from '@shared/api/home';
import { dayNumber, dayStartMs } from '@shared/time';
import { homeReads } from './sql';
import { batch, typed } from '../db/rows';

const HOUR_MS = 3_600_000;

/** `[first, first + 1, …, last]` */
const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

export async function homeOverview(db: D1Database, user: SessionUser, now: number, tzOffsetMinutes: number): Promise<HomeResponse> {
  const started = Date.now();
  const today = dayNumber(now, tzOffsetMinutes);
  const segmentDays = range(today - HOME_SEGMENT_DAYS + 1, today);
  const ruleDays = range(today - HOME_RULE_DAYS + 1, today);
  const nowHour = Math.floor(now / HOUR_MS);
  const hours = range(nowHour - HOME_INTAKE_HOURS + 1, nowHour);
  const ruleFromHour = Math.floor(dayStartMs(ruleDays[0]!, tzOffsetMinutes) / HOUR_MS);

  const superAdmin = user.role === 'super_admin';
  // someone without a department sees nothing of a department's (as userScope's '0')
  const path = superAdmin ? null : (user.departmentPath ?? '\u0000none');
  const s = homeReads({
    path,
    segmentFromDay: segmentDays[0]!,
    ruleFromHour,
    intakeFromHour: hours[0]!,
    tzOffsetMinutes,
  }).map((r) => db.prepare(r.sql).bind(...r.params));
  // one batch, each result typed by its statement (the order of homeReads)
  const common = [
    typed<{ id: number; name: string }>(s[0]!),
    typed<{ id: number; day: number; size: number }>(s[1]!),
    typed<{ day: number; contacts: number; tagged: number; counted_at: number }>(s[2]!),
    typed<{ id: number; name: string; color: string; contacts: number }>(s[3]!),
    typed<{ id: number; name: string; status: string }>(s[4]!),
    typed<{ id: number; day: number; added: number; removed: number }>(s[5]!),
  ] as const;
  const intakeReads = [
    typed<{ id: string; hour: number; events: number; name: string | null }>(s[6]!),
    typed<{ open: number; recent: number }>(s[7]!),
    typed<{ status: string; n: number }>(s[8]!),
  ] as const;
  const [segmentList, segmentSizes, totalRows, groupRows, ruleList, ruleActivity, ...intakeResults] = superAdmin
    ? await batch(db, [...common, ...intakeReads])
    : await batch(db, common);

  const segments = shapeSegments(segmentList.results, segmentSizes.results, segmentDays);
  const totals = totalRows.results[0];
  const coverage: HomeCoverage = {
    day: totals?.day ?? null,
    countedAt: totals?.counted_at ?? null,
    contacts: totals?.contacts ?? 0,
    untagged: totals ? totals.contacts - totals.tagged : 0,
    groups: groupRows.results,
  };
  const rules = shapeRules(ruleList.results, ruleActivity.results, ruleDays);
  const [intakeHours, intakeDead, outbound] = intakeResults;
  const intake =
    intakeHours && intakeDead && outbound ? shapeIntake(intakeHours.results, intakeDead.results[0], outbound.results, hours) : null;
  return { today, tzOffsetMinutes, segments, coverage, rules, intake, tookMs: Date.now() - started };
}

function shapeSegments(
  list: { id: number; name: string }[],
  sizes: { id: number; day: number; size: number }[],
  days: number[],
): HomeSegments {
  const first = days[0]!;
  const byId = new Map(list.map((s) => [s.id, { ...s, sizes: days.map((): number | null => null), latest: null as number | null }]));
  const lastDay = new Map<number, number>();
  for (const r of sizes) {
    const s = byId.get(r.id);
    const i = r.day - first;
    if (!s || i < 0 || i >= days.length) continue;
    s.sizes[i] = r.size;
    if ((lastDay.get(r.id) ?? -1) < i) {
      lastDay.set(r.id, i);
      s.latest = r.size;
    }
  }
  const all = [...byId.values()].sort((a, b) => (b.latest ?? -1) - (a.latest ?? -1) || a.id - b.id);
  return {
    days,
    top: all.slice(0, HOME_TOP_SEGMENTS),
    rest: all.slice(HOME_TOP_SEGMENTS).map(({ id, name, latest }) => ({ id, name, latest })),
  };
}

function shapeRules(
  list: { id: number; name: string; status: string }[],
  activity: { id: number; day: number; added: number; removed: number }[],
  days: number[],
): HomeRules {
  const first = days[0]!;
  const names = new Map(list.map((r) => [r.id, r.name]));
  const byId = new Map<number, HomeRules['series'][number]>();
  for (const a of activity) {
    const i = a.day - first;
    const name = names.get(a.id);
    if (name === undefined || i < 0 || i >= days.length) continue;
    let s = byId.get(a.id);
    if (!s) byId.set(a.id, (s = { id: a.id, name, added: days.map(() => 0), removed: days.map(() => 0), totalAdded: 0, totalRemoved: 0 }));
    s.added[i]! += a.added;
    s.removed[i]! += a.removed;
    s.totalAdded += a.added;
    s.totalRemoved += a.removed;
  }
  return {
    days,
    series: [...byId.values()].sort((a, b) => b.totalAdded + b.totalRemoved - (a.totalAdded + a.totalRemoved) || a.id - b.id),
    published: list.filter((r) => r.status === 'published').length,
  };
}

function shapeIntake(
  perHour: { id: string; hour: number; events: number; name: string | null }[],
  dead: { open: number; recent: number } | undefined,
  outbound: { status: string; n: number }[],
  hours: number[],
): HomeIntake {
  const first = hours[0]!;
  const bySource = new Map<string, HomeIntake['sources'][number]>();
  for (const r of perHour) {
    const i = r.hour - first;
    if (i < 0 || i >= hours.length) continue;
    let s = bySource.get(r.id);
    if (!s) bySource.set(r.id, (s = { id: r.id, name: r.name, counts: hours.map(() => 0), total: 0 }));
    s.counts[i]! += r.events;
    s.total += r.events;
  }
  const n = (status: string) => outbound.find((o) => o.status === status)?.n ?? 0;
  return {
    hours: hours.map((h) => h * HOUR_MS),
    sources: [...bySource.values()].sort((a, b) => b.total - a.total || a.id.localeCompare(b.id)),
    intakeDeadLetters: { open: dead?.open ?? 0, recent: dead?.recent ?? 0 },
    outbound: { dead: n('dead'), waiting: n('failed') + n('queued') },
    queueDepth: null,
  };
}
