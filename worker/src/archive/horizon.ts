/**
 * How far back D1 keeps raw events. Rule aggregates without a property filter read the daily
 * rollup (`contact_daily_stats`, kept whole); only aggregates with one (a channel) read raw
 * events, as far back as their window (`dataNeeds(...).eventsDays`). The horizon is the
 * longest such window of any published or paused rule (event- and schedule-triggered) plus
 * `ARCHIVE_MARGIN_DAYS`, and never less than `ARCHIVE_MIN_DAYS`; days older than it may move to
 * R2. A publish whose raw window reaches into days already archived is refused
 * (`windowProblem`), so no published rule ever reads a day D1 no longer holds.
 */
import { dataNeeds } from '@shared/rules/needs';
import type { CompiledRule } from '@shared/rules/compile';
import { ruleError, type RuleError } from '@shared/rules/errors';
import type { JsonLogic } from '@shared/rules/types';
import { parseJsonOr } from '@shared/json';
import { dayNumber } from '@shared/time';

export const DEFAULT_ARCHIVE_MIN_DAYS = 90;
export const DEFAULT_ARCHIVE_MARGIN_DAYS = 7;

/** A whole number ≥ `min` from a [vars] entry, else the default (with a warning). */
function wholeVar(env: Env, name: string, fallback: number, min: number): number {
  const raw = (env as unknown as Record<string, string | undefined>)[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (/^\s*\d+\s*$/.test(raw) && Number.isSafeInteger(n) && n >= min) return n;
  console.warn(`${name}=${JSON.stringify(raw)} is not a whole number ≥ ${min}; using ${fallback}`);
  return fallback;
}

export const archiveMinDays = (env: Env) => wholeVar(env, 'ARCHIVE_MIN_DAYS', DEFAULT_ARCHIVE_MIN_DAYS, 1);
export const archiveMarginDays = (env: Env) => wholeVar(env, 'ARCHIVE_MARGIN_DAYS', DEFAULT_ARCHIVE_MARGIN_DAYS, 0);

export interface Horizon {
  /** Raw events of the last `days` days (today included) stay in D1. */
  days: number;
  /** The longest raw-event window of a published rule; null when one is unknown (nothing may be archived). */
  longestWindow: number | null;
}

/**
 * The horizon for the rules' stored logic: every rule with a published version that may run
 * again without a new publish (published or paused), so resuming one never needs a check.
 * Stored logic that does not parse leaves the window unknown: nothing is archived.
 */
export async function archiveHorizon(env: Env): Promise<Horizon> {
  const { results } = await env.DB.prepare(
    `SELECT v.logic AS logic FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.published_version
     WHERE r.status IN ('published', 'paused')`,
  ).all<{ logic: string }>();
  const tests: { logic: JsonLogic }[] = [];
  for (const r of results) {
    const logic = parseJsonOr<JsonLogic | undefined>(r.logic, undefined);
    if (logic === undefined) return { days: Number.POSITIVE_INFINITY, longestWindow: null };
    tests.push({ logic });
  }
  const longest = dataNeeds([{ tests }]).eventsDays;
  return { days: Math.max(archiveMinDays(env), longest + archiveMarginDays(env)), longestWindow: longest };
}

/** The last day (days since epoch in TIMEZONE) any of whose raw events were archived, or null. */
export async function archivedThroughDay(db: D1Database): Promise<number | null> {
  const row = await db.prepare('SELECT MAX(day) AS day FROM event_archive').first<{ day: number | null }>();
  return row?.day ?? null;
}

/**
 * Why a rule reading `eventsDays` of raw events cannot run on what D1 holds at `now`, or null.
 * Its window starts `eventsDays - 1` days before today; it must start after the last archived day.
 */
export function windowProblem(eventsDays: number, archivedThrough: number | null, now: number, tzOffsetMinutes: number): string | null {
  if (eventsDays === 0 || archivedThrough === null) return null;
  const today = dayNumber(now, tzOffsetMinutes);
  const held = today - archivedThrough;
  if (today - eventsDays + 1 > archivedThrough) return null;
  return `An aggregate with a property filter reads ${eventsDays} days of raw events, but older raw events have been moved to the archive and D1 holds the last ${held} days. Shorten the window to at most ${held} days, or remove the property filter (the daily rollup keeps every day).`;
}

/**
 * {@link windowProblem} for each test of a compiled rule, pinned to its node: what the editor's
 * preview shows and a publish refuses.
 */
export function archivedWindowErrors(
  rule: Pick<CompiledRule, 'tests'>,
  archivedThrough: number | null,
  now: number,
  tzOffsetMinutes: number,
): RuleError[] {
  const errors: RuleError[] = [];
  for (const t of rule.tests) {
    const problem = windowProblem(dataNeeds([{ tests: [t] }]).eventsDays, archivedThrough, now, tzOffsetMinutes);
    if (problem) errors.push(ruleError(t.nodeId, 'bad_params', problem));
  }
  return errors;
}
