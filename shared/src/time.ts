/**
 * Calendar arithmetic shared by the worker, the rules and the demo generator. Pure: no Date
 * parsing, no Intl, so it behaves the same in Node, workerd and the browser.
 */

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;

/** Asia/Shanghai's offset from UTC in minutes (China has had no DST since 1991). */
export const SHANGHAI_OFFSET_MINUTES = 480;

/**
 * Days since 1970-01-01 *in a fixed-offset time zone*: the `day` of `contact_daily_stats` and of
 * rule windows. An event at 2024-03-01 23:30 Shanghai time (15:30 UTC) belongs to Shanghai's
 * March 1st, so the offset is added before flooring. Floors toward −∞, so times before 1970
 * get negative days instead of collapsing onto day 0.
 *
 * @param ms epoch milliseconds (UTC)
 * @param tzOffsetMinutes the zone's offset from UTC, east positive (480 for Asia/Shanghai)
 */
export function dayNumber(ms: number, tzOffsetMinutes: number): number {
  return Math.floor((ms + tzOffsetMinutes * 60_000) / DAY_MS);
}

/** Epoch milliseconds at which local day `day` starts in a fixed-offset zone: the inverse of `dayNumber`. */
export function dayStartMs(day: number, tzOffsetMinutes: number): number {
  return day * DAY_MS - tzOffsetMinutes * 60_000;
}
