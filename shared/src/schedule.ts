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

/** Why `expr` is not a five-field cron expression, or null. */
export function cronProblem(expr: string): string | null {
  const cron = parse(expr, 0);
  return typeof cron === 'string' ? cron : null;
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
