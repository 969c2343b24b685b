/**
 * An audit entry's summary in the reader's language: the action's sentence from the locale
 * (`auditSummary.<object>.<verb>`, or `.<variant>` under it) filled with the entry's params. An
 * entry with no params (written before they were stored) or an action with no sentence keeps
 * the English summary the worker stored.
 */
import type { AuditListItem, AuditParams, AuditParamValue } from '@shared/api/audit';

/** What the page gives: vue-i18n's `t` / `te` and the app's number and time formats. */
export interface SummaryWords {
  t: (key: string, named: Record<string, unknown>) => string;
  te: (key: string) => boolean;
  number: (n: number) => string;
  dateTime: (ms: number) => string;
}

/** The message key of an action's sentence, or null for an action that is not `object.verb`. */
export function summaryKey(action: string, params: AuditParams): string | null {
  const dot = action.indexOf('.');
  if (dot <= 0 || dot === action.length - 1) return null;
  const base = `auditSummary.${action.slice(0, dot)}.${action.slice(dot + 1)}`;
  return typeof params.variant === 'string' ? `${base}.${params.variant}` : base;
}

/** Params whose values are codes put in words by another screen's messages (`<prefix>.<value>`). */
const VOCABULARY: Record<string, string> = {
  role: 'role',
  fromStatus: 'rules.status',
  toStatus: 'rules.status',
  sourceKind: 'sources.kinds',
  alertKind: 'alerts.kinds',
};

const isTime = (key: string) => key === 'at' || key.endsWith('At');
/** Numbers that name something (ids, versions, row numbers) are not grouped: #12345, not #12,345. */
const isName = (key: string) => key.endsWith('Id') || key === 'version' || key === 'first' || key === 'last';

function show(key: string, v: AuditParamValue, w: SummaryWords): string {
  if (v === null) return '—';
  if (typeof v === 'number') return isTime(key) ? w.dateTime(v) : isName(key) ? String(v) : w.number(v);
  if (typeof v === 'string' && VOCABULARY[key] && w.te(`${VOCABULARY[key]}.${v}`)) return w.t(`${VOCABULARY[key]}.${v}`, {});
  return String(v);
}

/** The params as the sentence shows them. */
export function formatParams(params: AuditParams, w: SummaryWords): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, show(k, v, w)]));
}

export function auditSummaryText(item: Pick<AuditListItem, 'action' | 'params' | 'summary'>, w: SummaryWords): string {
  const key = item.params ? summaryKey(item.action, item.params) : null;
  if (!item.params || !key || !w.te(key)) return item.summary ?? '';
  return w.t(key, formatParams(item.params, w));
}
