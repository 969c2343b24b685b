/**
 * The configured TIMEZONE as a fixed offset: "days" (rule windows, the daily rollup) are
 * counted in it. Fixed offsets only, which is exact for Asia/Shanghai (no DST since 1991).
 */
const KNOWN: Record<string, number> = {
  'Asia/Shanghai': 480,
  'Asia/Chongqing': 480,
  'Asia/Hong_Kong': 480,
  'Asia/Taipei': 480,
  'Asia/Singapore': 480,
  'Asia/Tokyo': 540,
  UTC: 0,
  'Etc/UTC': 0,
};

const cache = new Map<string, number>();

/** Minutes east of UTC for an IANA name from the table above or a `±HH:MM` offset; unknown names are a configuration bug. */
export function tzOffsetMinutes(name: string | undefined): number {
  const key = name ?? 'Asia/Shanghai';
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let minutes = KNOWN[key];
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(key);
  if (minutes === undefined && m) minutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  if (minutes === undefined) throw new Error(`TIMEZONE "${key}" is not a supported fixed-offset zone (e.g. Asia/Shanghai, UTC, +08:00)`);
  cache.set(key, minutes);
  return minutes;
}
