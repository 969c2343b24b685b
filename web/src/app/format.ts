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
