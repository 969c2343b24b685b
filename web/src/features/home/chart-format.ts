/**
 * How the app's charts read: dates, hours, shares and axis numbers in the viewer's locale, the
 * palette and the muted axis style. Kept apart from `charts.ts` so pages that only format (the
 * home's cards, a segment's page) do not pull ECharts into their chunk.
 */
import { DAY_MS } from '@shared/time';
import { i18n } from '../../app/i18n';

const locale = () => i18n.global.locale.value;

/** A local day number (days since 1970-01-01 in the server's zone) as a short date: 12/7 · 12月7日. */
export function formatDay(day: number): string {
  // the day number is a calendar date: read it in UTC so the browser's own zone does not shift it
  return new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', month: 'numeric', day: 'numeric' }).format(day * DAY_MS);
}

/** An hour's start (epoch ms) in the server's zone: "14:00", with the date at midnight. */
export function formatHour(ms: number, tzOffsetMinutes: number): string {
  const local = ms + tzOffsetMinutes * 60_000;
  const hm = new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(local);
  if (new Date(local).getUTCHours() !== 0) return hm;
  return `${new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', month: 'numeric', day: 'numeric' }).format(local)}\n${hm}`;
}

/** A share as a percentage in the viewer's locale: 0.4213 → 42.1%. */
export function formatShare(part: number, whole: number): string {
  const share = whole > 0 ? part / whole : 0;
  return share.toLocaleString(locale(), { style: 'percent', maximumFractionDigits: share > 0 && share < 0.01 ? 2 : 1 });
}

/** An axis number: grouped below 10,000 (2,500), compact above (1.2万 / 12K). */
export function formatAxis(n: number): string {
  if (Math.abs(n) < 10_000) return n.toLocaleString(locale());
  return new Intl.NumberFormat(locale(), { notation: 'compact', maximumFractionDigits: 1 }).format(n);
}

/** The palette the lines use, so the legends beside the charts show the same colours. */
export const PALETTE = ['#07a85a', '#409eff', '#e6a23c', '#9b59b6', '#f56c6c', '#17a2b8', '#8d6e63', '#34495e', '#c0ca33', '#ec407a'];

/** Axis text and split lines in the app's muted colours. */
export const AXIS_STYLE = {
  axisLabel: { color: '#6b7a74', fontSize: 11 },
  axisLine: { lineStyle: { color: '#d5ddd9' } },
  splitLine: { lineStyle: { color: '#eef2f0' } },
} as const;

/** What a click on a chart element reports (the part of ECharts' event the home reads). */
export interface ChartClick {
  componentType: string;
  seriesIndex?: number;
  dataIndex?: number;
  value?: unknown;
}
