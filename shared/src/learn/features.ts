/**
 * Features for the rule learner (issue 19): one column per thing a condition can test, read
 * from the field catalog exactly as the evaluators read it, so every split the tree makes is a
 * condition (field + operator + value) that means the same thing in the compiled rule.
 *
 * - numbers (typed columns, custom numbers, event aggregates): the value, NaN when the evaluator
 *   sees a missing one (null, absent, a custom value of the wrong JSON type). Aggregates are 0,
 *   never missing, as in the rule language.
 * - dates: whole local days before "now" (`within_last_days` / `more_than_days_ago` are day
 *   counts), NaN when missing or in the future (both operators are false on those).
 * - categories (text, id-like numbers, booleans): a code, 1…K for the K most frequent values
 *   (held by at least a few contacts), 0 for missing and for every other value: a condition `in [values]` is false on all of them.
 * - binary (tags held, items of a custom list): 1 when the condition holds.
 *
 * Time split for a future-behaviour outcome: `snapshotAt` rewinds a contact to the end of day
 * D − N (counters, last-active/purchase days, tags from the ledger); `futureEventCount` reads the
 * label from the N days after it.
 */
import { EVENT_TYPES, type EventType } from '../domain';
import { compileLogic } from '../rules/evaluate';
import { BUILTIN_FIELDS, customFieldDefs, type CustomFieldDecl, type FieldDef } from '../rules/fields';
import { fieldLogic } from '../rules/operators';
import type { AggregateParams, ConditionSpec, DailyStatRow, EvalData } from '../rules/types';
import { dayNumber, dayStartMs, SHANGHAI_OFFSET_MINUTES } from '../time';

/** How a feature's values are encoded and split. */
export type FeatureKind = 'numeric' | 'date' | 'categorical' | 'binary';

/** A category value as the evaluators compare it (`===`, same JS type). */
export type CategoryValue = string | number | boolean;

/** One column of the feature matrix and the field it tests. */
export interface FeatureSpec {
  /** Unique and stable: `totalSpend`, `event.amount:purchase:60`, `tags:12`, `custom.points`. */
  id: string;
  /** The catalog key the condition names. */
  field: string;
  /** The catalog type of the field (decides the operators). */
  fieldType: FieldDef['type'];
  kind: FeatureKind;
  params?: AggregateParams;
  /** Binary features: the condition whose truth is 1 (`has` a tag, `has_item` of a list). */
  condition?: ConditionSpec;
  /** Categorical features: the value of code i + 1 (code 0 = missing or any other value). */
  categories?: CategoryValue[];
}

/** Column-major matrix: `columns[f][row]`. */
export interface FeatureMatrix {
  specs: FeatureSpec[];
  rows: number;
  columns: Float64Array[];
}

/** Which features to offer. */
export interface FeatureOptions {
  customFields?: readonly CustomFieldDecl[];
  /** Aggregate windows in days; default 7, 30, 60, 90. */
  windows?: readonly number[];
  /** Event types for count aggregates; default every type. Amounts are summed for `purchase` only. */
  eventTypes?: readonly EventType[];
  /** Catalog keys left out; default free text that names a person: name, remark, company. */
  exclude?: readonly string[];
  /** Most frequent values kept per categorical field; default 40. */
  maxCategories?: number;
  /** Values held by fewer contacts are not categories of their own (they code 0); default 5. */
  minCategoryCount?: number;
  /** Tags offered as has/lacks features: those held by at least this many contacts; default 20. */
  minTagHolders?: number;
  /** Tags never offered (e.g. ones whose history is known not to be what was held then). */
  excludeTags?: readonly number[];
  /** Numeric fields that are ids, split as categories (`in`), not thresholds. */
  idFields?: readonly string[];
}

const DEFAULT_EXCLUDE = ['name', 'remark', 'company'];
const DEFAULT_ID_FIELDS = ['departmentId', 'ownerUserId'];
const MAX_LIST_ITEMS = 20;
const tzOf = (d: EvalData) => d.tzOffsetMinutes ?? SHANGHAI_OFFSET_MINUTES;
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The candidate features for a population: every catalog field a scheduled rule can test, with
 * categories and tags taken from `data` (the training contacts). Deterministic in `data`'s order.
 */
export function discoverFeatures(data: readonly EvalData[], o: FeatureOptions = {}): FeatureSpec[] {
  const exclude = new Set(o.exclude ?? DEFAULT_EXCLUDE);
  const idFields = new Set(o.idFields ?? DEFAULT_ID_FIELDS);
  const maxCat = o.maxCategories ?? 40;
  const minCount = o.minCategoryCount ?? 5;
  const specs: FeatureSpec[] = [];
  const defs = [...BUILTIN_FIELDS, ...customFieldDefs(o.customFields ?? [])];
  for (const f of defs) {
    if (exclude.has(f.key) || f.eventScoped || f.type === 'bucket' || f.type === 'keyword') continue;
    if (f.type === 'aggregate') {
      if (f.source.kind !== 'aggregate') continue;
      const measure = f.source.measure;
      for (const eventType of o.eventTypes ?? EVENT_TYPES) {
        if (measure === 'amount' && eventType !== 'purchase') continue;
        for (const days of o.windows ?? [7, 30, 60, 90])
          specs.push({
            id: `${f.key}:${eventType}:${days}`,
            field: f.key,
            fieldType: f.type,
            kind: 'numeric',
            params: { eventType, days },
          });
      }
    } else if (f.type === 'tags') {
      const holders = new Map<number, number>();
      for (const d of data) for (const t of d.tags ?? []) holders.set(t, (holders.get(t) ?? 0) + 1);
      const min = o.minTagHolders ?? 20;
      const skip = new Set(o.excludeTags ?? []);
      for (const t of [...holders.keys()].sort((a, b) => a - b)) {
        if ((holders.get(t) ?? 0) < min || skip.has(t)) continue;
        specs.push({
          id: `tags:${t}`,
          field: 'tags',
          fieldType: 'tags',
          kind: 'binary',
          condition: { field: 'tags', op: 'has', value: t },
        });
      }
    } else if (f.type === 'list') {
      const read = compileLogic(fieldLogic(f, undefined));
      const counts = new Map<CategoryValue, number>();
      for (const d of data) {
        const v = read(d);
        if (!Array.isArray(v)) continue;
        for (const x of new Set(v)) if (typeof x === 'string' || finite(x)) counts.set(x, (counts.get(x) ?? 0) + 1);
      }
      for (const x of topValues(counts, MAX_LIST_ITEMS, minCount))
        specs.push({
          id: `${f.key}:${String(x)}`,
          field: f.key,
          fieldType: f.type,
          kind: 'binary',
          condition: { field: f.key, op: 'has_item', value: x },
        });
    } else if (f.type === 'text' || f.type === 'boolean' || (f.type === 'number' && idFields.has(f.key))) {
      const read = compileLogic(fieldLogic(f, undefined));
      const counts = new Map<CategoryValue, number>();
      for (const d of data) {
        const v = read(d);
        const ok = f.type === 'text' ? typeof v === 'string' : f.type === 'boolean' ? typeof v === 'boolean' : finite(v);
        if (ok) counts.set(v as CategoryValue, (counts.get(v as CategoryValue) ?? 0) + 1);
      }
      specs.push({ id: f.key, field: f.key, fieldType: f.type, kind: 'categorical', categories: topValues(counts, maxCat, minCount) });
    } else if (f.type === 'number') {
      specs.push({ id: f.key, field: f.key, fieldType: f.type, kind: 'numeric' });
    } else if (f.type === 'date') {
      specs.push({ id: f.key, field: f.key, fieldType: f.type, kind: 'date' });
    }
  }
  return specs;
}

/** The `n` most frequent values held at least `min` times, most frequent first, ties by value: deterministic. */
function topValues(counts: Map<CategoryValue, number>, n: number, min: number): CategoryValue[] {
  return [...counts.entries()]
    .filter(([, c]) => c >= min)
    .sort((a, b) => b[1] - a[1] || (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0))
    .slice(0, n)
    .map(([v]) => v);
}

/** A reader of one feature's encoded value for one contact (evaluated at the contact's `now`). */
function encoder(spec: FeatureSpec, customFields: readonly CustomFieldDecl[]): (d: EvalData) => number {
  if (spec.kind === 'binary' && spec.field === 'tags') {
    const tag = spec.condition?.value as number;
    return (d) => (d.tags?.includes(tag) ? 1 : 0);
  }
  const def = [...BUILTIN_FIELDS, ...customFieldDefs(customFields)].find((f) => f.key === spec.field);
  if (!def) throw new Error(`unknown field ${spec.field}`);
  const read = compileLogic(fieldLogic(def, spec.params));
  switch (spec.kind) {
    case 'numeric':
      return (d) => {
        const v = read(d);
        return finite(v) ? v : Number.NaN;
      };
    case 'date':
      return (d) => {
        const v = read(d);
        if (!finite(v)) return Number.NaN;
        const ago = dayNumber(d.now, tzOf(d)) - dayNumber(v, tzOf(d));
        return ago >= 0 ? ago : Number.NaN;
      };
    case 'categorical': {
      const codes = new Map<unknown, number>((spec.categories ?? []).map((c, i) => [c, i + 1]));
      return (d) => codes.get(read(d)) ?? 0;
    }
    case 'binary': {
      // `sf_list_has`: a list holding an item of the same type and value.
      const item = spec.condition?.value;
      return (d) => {
        const v = read(d);
        return Array.isArray(v) && v.some((x) => typeof x === typeof item && x === item) ? 1 : 0;
      };
    }
  }
}

/** Encodes `data` into a matrix with the categories already fixed in `specs` (those of the training data). */
export function encodeFeatures(
  specs: readonly FeatureSpec[],
  data: readonly EvalData[],
  customFields: readonly CustomFieldDecl[] = [],
): FeatureMatrix {
  const columns = specs.map((s) => {
    const enc = encoder(s, customFields);
    const col = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) col[i] = enc(data[i] as EvalData);
    return col;
  });
  return { specs: [...specs], rows: data.length, columns };
}

/** The last millisecond of local day (day of `now`) − `days`: "as of D − N". */
export function asOfEnd(now: number, days: number, tzOffsetMinutes = SHANGHAI_OFFSET_MINUTES): number {
  return dayStartMs(dayNumber(now, tzOffsetMinutes) - days + 1, tzOffsetMinutes) - 1;
}

/** One tag change of a contact (a `tag_ledger` row). */
export interface TagChange {
  tagId: number;
  op: 'add' | 'remove';
  at: number;
}

const COUNTERS: Partial<Record<EventType, string>> = {
  message: 'messageCount',
  purchase: 'purchaseCount',
  invite: 'inviteCount',
  violation: 'violationCount',
};

/**
 * The contact as it was at the end of the day of `asOf` (null if added after it), with `now` set
 * there: counters less what the rollup adds after that day, last active / last purchase from the
 * events and rollup days up to it, the tags its ledger says it held then (its current tags when no
 * ledger is given), events and rollup cut at that day. Attributes (region, custom fields…) have no
 * history and are taken as they are now.
 */
export function snapshotAt(d: EvalData, asOf: number, ledger?: readonly TagChange[]): EvalData | null {
  const tz = tzOf(d);
  const day = dayNumber(asOf, tz);
  const end = dayStartMs(day + 1, tz) - 1;
  const c = d.contact;
  if (finite(c.createdAt) && c.createdAt > end) return null;
  const contact: Record<string, unknown> = { ...c };
  const stats: DailyStatRow[] = [];
  let lastDay: number | null = null;
  let lastPurchaseDay: number | null = null;
  for (const s of d.stats ?? []) {
    if (s.day <= day) {
      stats.push(s);
      if (lastDay === null || s.day > lastDay) lastDay = s.day;
      if (s.type === 'purchase' && (lastPurchaseDay === null || s.day > lastPurchaseDay)) lastPurchaseDay = s.day;
      continue;
    }
    const key = COUNTERS[s.type];
    if (key && finite(contact[key])) contact[key] = (contact[key] as number) - s.count;
    if (s.type === 'purchase' && finite(contact.totalSpend)) contact.totalSpend = contact.totalSpend - s.amount;
  }
  const events = (d.events ?? []).filter((e) => e.occurredAt <= end);
  const rewind = (cur: unknown, dayOf: number | null, type: EventType | null): unknown => {
    if (!finite(cur) || cur <= end) return cur ?? null;
    let best: number | null = null;
    for (const e of events) if ((type === null || e.type === type) && (best === null || e.occurredAt > best)) best = e.occurredAt;
    // The rollup is complete where raw events may be archived: a later day there wins, at day precision.
    if (dayOf !== null && (best === null || dayNumber(best, tz) < dayOf)) best = dayStartMs(dayOf, tz);
    return best;
  };
  contact.lastActiveAt = rewind(c.lastActiveAt, lastDay, null);
  contact.lastPurchaseAt = rewind(c.lastPurchaseAt, lastPurchaseDay, 'purchase');
  let tags = d.tags ?? [];
  if (ledger) {
    const held = new Set(tags);
    const later = ledger.filter((x) => x.at > end).sort((a, b) => b.at - a.at);
    for (const x of later) {
      if (x.op === 'add') held.delete(x.tagId);
      else held.add(x.tagId);
    }
    tags = [...held].sort((a, b) => a - b);
  }
  return { ...d, contact, tags, stats, events, now: end, event: null };
}

/** Events of `type` in the `days` local days after the day of `asOf` (the label window (D − N, D]), from the rollup. */
export function futureEventCount(d: EvalData, type: EventType, asOf: number, days: number): number {
  const day = dayNumber(asOf, tzOf(d));
  let n = 0;
  for (const s of d.stats ?? []) if (s.type === type && s.day > day && s.day <= day + days) n += s.count;
  return n;
}
