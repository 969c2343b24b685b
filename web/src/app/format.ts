import { dayNumber } from '@shared/time';
import { i18n } from './i18n';

/** Amount in fen as ¥ with grouping: 128000 → ¥1,280. Cents shown only when present. */
export function formatFen(fen: number): string {
  const yuan = fen / 100;
  return `¥${yuan.toLocaleString(i18n.global.locale.value, {
    minimumFractionDigits: Number.isInteger(yuan) ? 0 : 2,
    maximumFractionDigits: 2,
  })}`;
}

export function formatNumber(n: number): string {
  return n.toLocaleString(i18n.global.locale.value);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
];

/** "3 天前" / "3 days ago"; under a minute is "just now". */
export function formatRelative(ms: number, now = Date.now()): string {
  const diff = ms - now;
  const rtf = new Intl.RelativeTimeFormat(i18n.global.locale.value, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(diff) >= size) return rtf.format(Math.round(diff / size), unit);
  }
  return i18n.global.t('time.justNow');
}

export function formatDateTime(ms: number): string {
  return new Date(ms).toLocaleString(i18n.global.locale.value, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A zone the cron runs in: its name and its offset (the offset stands in where the browser does not know the name). */
export interface Zone {
  name: string;
  offsetMinutes: number;
}

/** The zone's IANA name when the browser knows it, else the fixed offset it stands for. */
function zoneId(zone: Zone): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone.name });
    return zone.name;
  } catch {
    const h = -zone.offsetMinutes / 60;
    return Number.isInteger(h) ? `Etc/GMT${h >= 0 ? '+' : ''}${h}` : 'UTC';
  }
}

/**
 * A coming run as people say it, in the zone it runs in: day ("明天" / "tomorrow" up to two days
 * ahead, else "12月9日 周三") and time ("03:00").
 */
export function formatRun(ms: number, zone: Zone, now = Date.now()): { day: string; time: string } {
  const locale = i18n.global.locale.value;
  const id = zoneId(zone);
  const ahead = dayNumber(ms, zone.offsetMinutes) - dayNumber(now, zone.offsetMinutes);
  const day =
    ahead <= 2
      ? new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(ahead, 'day')
      : new Intl.DateTimeFormat(locale, { timeZone: id, month: 'short', day: 'numeric', weekday: 'short' }).format(ms);
  return { day, time: new Intl.DateTimeFormat(locale, { timeZone: id, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms) };
}
