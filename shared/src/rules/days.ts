/**
 * Day arithmetic for rule windows. The day numbers come from `shared/src/time.ts`, the same
 * functions that compute `contact_daily_stats.day` at ingest and in the demo generator, so a
 * rule's window and the rollup it reads agree on where a day starts.
 */
import { DAY_MS, dayNumber, dayStartMs, SHANGHAI_OFFSET_MINUTES } from '../time';

export { DAY_MS, dayNumber, dayStartMs };

/** Asia/Shanghai: UTC+8, no DST since 1991. The default zone for "days". */
export const DEFAULT_TZ_OFFSET_MINUTES = SHANGHAI_OFFSET_MINUTES;

/**
 * The window "the last `days` days": today (the day of `now`) and the `days − 1` days before,
 * as inclusive day numbers and inclusive epoch-ms bounds. Both evaluators and the SQL compiler
 * use this one function, so their edges cannot drift apart.
 */
export function lastDaysWindow(now: number, days: number, tzOffsetMinutes: number) {
  const today = dayNumber(now, tzOffsetMinutes);
  const firstDay = today - days + 1;
  return {
    firstDay,
    lastDay: today,
    fromMs: dayStartMs(firstDay, tzOffsetMinutes),
    toMs: dayStartMs(today + 1, tzOffsetMinutes) - 1,
  };
}
