/** The day windows offered first; any whole number from 1 to MAX_DAYS can be typed. */
export const DAY_PRESETS: readonly number[] = [7, 14, 30, 60, 90, 180, 365];
/** The shared schema's bound (AggregateParams.days). */
export const MAX_DAYS = 3660;

/** A typed or picked window as whole days, or undefined when it is not one (0, 2.5, "abc", 99999). */
export function parseDays(v: number | string | null | undefined): number | undefined {
  const text = typeof v === 'string' ? v.trim().replace(/\s*(天|days?|d)$/i, '') : v;
  if (text === '' || text === null || text === undefined) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= MAX_DAYS ? n : undefined;
}
