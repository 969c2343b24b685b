/**
 * Day arithmetic for rule windows. Same formulas as the (then uncommitted) `shared/src/time.ts`;
 * kept here so the rule language has no dependency that may move under it.
 */

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;

/** Asia/Shanghai: UTC+8, no DST since 1991. The default zone for "days". */
export const DEFAULT_TZ_OFFSET_MINUTES = 480;

/** Days since 1970-01-01 in a fixed-offset zone, floored toward −∞ (the rollup's `day`). */
export function dayNumber(ms: number, tzOffsetMinutes: number): number {
  return Math.floor((ms + tzOffsetMinutes * 60_000) / DAY_MS);
}

/** Epoch ms at which local day `day` starts. */
export function dayStartMs(day: number, tzOffsetMinutes: number): number {
  return day * DAY_MS - tzOffsetMinutes * 60_000;
}

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
