/**
 * What a band node (or score) can count: every numeric, yes/no and date contact field (custom
 * ones included; a yes/no counts 1 / 0, a date the days since), the count of every event type and
 * the amount of purchases over a window. Pure, so quick add, the
 * inspector and tests share it. A measure that only ever hurts (violations, leaving a group,
 * deleting the friend) starts as a penalty; each has a default "full at" value (its cap) that the
 * inspector shows and lets the user change.
 */
import { EVENT_TYPES, type EventType } from '@shared/domain';
import { fieldCatalog, type CustomFieldDecl } from '@shared/rules/fields';
import type { ScoreMetric } from '@shared/rules/types';

/** One measure a factor can be built on. */
export interface Measure {
  /** `field:<key>`, `count:<event type>` or `amount:<event type>`. */
  id: string;
  group: 'fields' | 'days' | 'custom' | 'counts' | 'amounts';
  field: string;
  eventType?: EventType;
  /** Penalty by nature: the new factor's weight starts negative. */
  penalty: boolean;
  /** The default value that earns the full weight. */
  cap: number;
}

/** Id fields are numbers but not quantities: never a score factor. */
const NOT_MEASURES = new Set(['departmentId', 'ownerUserId']);
/** Numbers as they are, yes/no as 1 / 0, dates as days since (the compiler's score field types). */
const MEASURE_TYPES = new Set(['number', 'boolean', 'date']);
// days since the last activity or purchase: the longer, the fewer points
const PENALTY_FIELDS = new Set(['violationCount', 'lastActiveAt', 'lastPurchaseAt']);
const PENALTY_EVENTS = new Set<EventType>(['violation', 'group_leave', 'friend_delete']);
const FIELD_CAPS: Record<string, number> = { messageCount: 100, purchaseCount: 10, totalSpend: 100_000, inviteCount: 5, violationCount: 3 };
/** A new factor's window in days. */
export const MEASURE_DAYS = 30;

/** Every measure for this workspace, fields first, then event counts, then purchase amounts. */
export function measures(customFields: readonly CustomFieldDecl[]): Measure[] {
  const out: Measure[] = [];
  for (const f of fieldCatalog(customFields).values()) {
    if (!MEASURE_TYPES.has(f.type) || f.eventScoped || NOT_MEASURES.has(f.key)) continue;
    const custom = f.source.kind === 'custom';
    out.push({
      id: `field:${f.key}`,
      group: custom ? 'custom' : f.type === 'date' ? 'days' : 'fields',
      field: f.key,
      penalty: PENALTY_FIELDS.has(f.key),
      // a yes/no is 1 at most; days since: half a year
      cap: FIELD_CAPS[f.key] ?? (f.type === 'boolean' ? 1 : f.type === 'date' ? 180 : 100),
    });
  }
  for (const e of EVENT_TYPES)
    out.push({ id: `count:${e}`, group: 'counts', field: 'event.count', eventType: e, penalty: PENALTY_EVENTS.has(e), cap: 10 });
  out.push({ id: 'amount:purchase', group: 'amounts', field: 'event.amount', eventType: 'purchase', penalty: false, cap: 100_000 });
  return out;
}

/** The measure a factor is built on (undefined for a field the catalog no longer has). */
export function measureOf(m: Pick<ScoreMetric, 'field' | 'params'>): string {
  if (m.field === 'event.count' && m.params) return `count:${m.params.eventType}`;
  if (m.field === 'event.amount' && m.params) return `amount:${m.params.eventType}`;
  return `field:${m.field}`;
}

/** A new factor on `m`: weight 10 (−10 for a penalty), the measure's cap, a 30-day window for events. */
export function factorOf(m: Measure): ScoreMetric {
  return {
    field: m.field,
    ...(m.eventType ? { params: { eventType: m.eventType, days: MEASURE_DAYS } } : {}),
    weight: m.penalty ? -10 : 10,
    cap: m.cap,
  };
}
