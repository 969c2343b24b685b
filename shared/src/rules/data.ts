/**
 * Builds the evaluators' `EvalData` from database rows, so the webhook path and the tests read
 * a contact exactly as SQL does.
 */
import type { DailyStatRow, EvalData, EventRow, TriggerEvent } from './types';

const camelCache = new Map<string, string>();
/** snake_case column → camelCase key; the same few dozen columns every time, so remembered. */
const camel = (k: string) => {
  let c = camelCache.get(k);
  if (c === undefined) {
    c = k.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase());
    if (camelCache.size < 1000) camelCache.set(k, c);
  }
  return c;
};

/** A `contacts` row (snake_case columns, `custom` as JSON text) as the evaluators' `contact`. */
export function contactFromRow(row: Record<string, unknown>): Record<string, unknown> {
  // Built with Object.fromEntries, not by assigning ~30 computed keys one by one: V8 turns an
  // object grown by computed-key stores past a dozen properties into a hash table, and every
  // field read of every rule on the webhook path would then be a dictionary lookup. Rows with
  // the same columns get one shared hidden class.
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(row).map(([k, v]) => [camel(k), v]));
  let custom: unknown = {};
  if (typeof row.custom === 'string') {
    try {
      custom = JSON.parse(row.custom);
    } catch {
      // SQLite's json_* functions see malformed JSON as an error; the rule sees no attributes.
      custom = {};
    }
  }
  out.custom = typeof custom === 'object' && custom !== null && !Array.isArray(custom) ? custom : {};
  return out;
}

/** Rows of one contact, as read from D1. */
export interface ContactRows {
  contact: Record<string, unknown>;
  tagIds?: number[];
  stats?: { type: string; day: number; count: number; amount: number }[];
  events?: { type: string; occurred_at: number; amount: number | null; channel: string | null; text: string | null }[];
}

/** `EvalData` for one contact at `now`, optionally with the triggering event. */
export function evalDataFromRows(rows: ContactRows, now: number, tzOffsetMinutes: number, event: TriggerEvent | null = null): EvalData {
  return {
    contact: contactFromRow(rows.contact),
    tags: rows.tagIds ?? [],
    stats: (rows.stats ?? []) as DailyStatRow[],
    events: (rows.events ?? []).map((e): EventRow => ({
      type: e.type as EventRow['type'],
      occurredAt: e.occurred_at,
      amount: e.amount,
      channel: e.channel,
      text: e.text,
    })),
    event,
    now,
    tzOffsetMinutes,
  };
}
