/**
 * Schedule triggers: five-field cron expressions ("0 3 * * *" = 03:00 every day) read by croner,
 * in the configured zone as a UTC offset (the same offset every "day" in Segflow is counted in).
 * croner is a well-kept parser with Vixie cron's semantics (when both day fields are restricted,
 * a day matching either one runs), names (MON, JAN) and `L`; the worker asks it whether a minute
 * is scheduled, the editor asks it for the next runs.
 */
import { Cron } from 'croner';

/** Ready-made schedules for people who do not write cron; the UI words them. */
export const SCHEDULE_PRESETS = [
  { id: 'hourly', cron: '0 * * * *' },
  { id: 'daily', cron: '0 3 * * *' },
  { id: 'weekly', cron: '0 3 * * 1' },
  { id: 'monthly', cron: '0 3 1 * *' },
] as const;

export type SchedulePresetId = (typeof SCHEDULE_PRESETS)[number]['id'];

/** The preset an expression is, if any (compared field by field, so spacing does not matter). */
export function presetOf(cron: string): SchedulePresetId | null {
  const fields = cron.trim().split(/\s+/).join(' ');
  return SCHEDULE_PRESETS.find((p) => p.cron === fields)?.id ?? null;
}

/** The expression read by croner, or why it cannot be (croner's words, e.g. "Invalid value for hour: 25"). */
function parse(expr: string, tzOffsetMinutes: number): Cron | string {
  try {
    // paused and without a function: croner only reads the pattern, it never sets a timer
    return new Cron(expr.trim(), { mode: '5-part', utcOffset: tzOffsetMinutes, paused: true });
  } catch (e) {
    return e instanceof Error ? e.message.replace(/^CronPattern: /, '') : String(e);
  }
}

/** The five fields of a cron expression, in order. */
export const CRON_FIELDS = ['minute', 'hour', 'day', 'month', 'weekday'] as const;
export type CronField = (typeof CRON_FIELDS)[number];

/** Each field's numeric range (weekday: 0 and 7 are Sunday). */
const RANGES: Record<CronField, [number, number]> = { minute: [0, 59], hour: [0, 23], day: [1, 31], month: [1, 12], weekday: [0, 7] };

/**
 * Why an expression cannot run, in parts a screen can word in its own language: croner judges,
 * this names the field. (croner's own words are English and sometimes wrong: for "* * 32 * *"
 * it says "Invalid value for day: 31".)
 */
export type CronIssue =
  | { kind: 'parts'; count: number }
  | { kind: 'range'; field: CronField; value: number; min: number; max: number }
  | { kind: 'syntax'; field: CronField; text: string };

/** What is wrong with `expr` as a five-field cron expression, or null when croner reads it. */
export function cronIssue(expr: string): CronIssue | null {
  if (typeof parse(expr, 0) !== 'string') return null;
  const parts = expr.trim() === '' ? [] : expr.trim().split(/\s+/);
  if (parts.length !== 5) return { kind: 'parts', count: parts.length };
  for (const [i, field] of CRON_FIELDS.entries()) {
    // the field alone, every other one "*": the first field croner refuses is the one at fault
    const alone = CRON_FIELDS.map((_, j) => (j === i ? parts[i] : '*')).join(' ');
    if (typeof parse(alone, 0) !== 'string') continue;
    const [min, max] = RANGES[field];
    // the numbers the field names as values (not steps after "/", not nth after "#")
    const values =
      parts[i]!.replace(/[/#]\d+/g, '')
        .match(/\d+/g)
        ?.map(Number) ?? [];
    const out = values.find((v) => v < min || v > max);
    return out === undefined ? { kind: 'syntax', field, text: parts[i]! } : { kind: 'range', field, value: out, min, max };
  }
  // every field reads alone but not together (croner's combination rules): say it of the whole
  return { kind: 'syntax', field: 'minute', text: expr.trim() };
}

/** An issue in English words (compile errors, logs). */
export function describeCronIssue(issue: CronIssue): string {
  if (issue.kind === 'parts') return `a cron expression has 5 fields (minute hour day month weekday); this one has ${issue.count}`;
  if (issue.kind === 'range') return `${issue.field} ${issue.value} is outside ${issue.min}–${issue.max}`;
  return `the ${issue.field} field "${issue.text}" cannot be read`;
}

/** Why `expr` is not a five-field cron expression, in English, or null. */
export function cronProblem(expr: string): string | null {
  const issue = cronIssue(expr);
  return issue === null ? null : describeCronIssue(issue);
}

/** Whether the minute containing `ms` is scheduled; false for an expression that does not parse. */
export function isScheduledAt(expr: string, ms: number, tzOffsetMinutes: number): boolean {
  const cron = parse(expr, tzOffsetMinutes);
  return typeof cron !== 'string' && cron.match(new Date(ms - (ms % 60_000)));
}

/** The next `count` runs strictly after `from` (epoch ms); [] for an expression that does not parse. */
export function nextRuns(expr: string, from: number, tzOffsetMinutes: number, count = 5): number[] {
  const cron = parse(expr, tzOffsetMinutes);
  return typeof cron === 'string' ? [] : cron.nextRuns(count, new Date(from)).map((d) => d.getTime());
}
