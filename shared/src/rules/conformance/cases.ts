/**
 * The conformance suite: JSON cases `{ description, rule, data, expected }` that every
 * execution path must agree on — json-logic-js, the closure evaluator (unit test) and SQL on
 * D1 (worker test). `rule` is either a JSON Logic predicate (`expected` is a boolean) or a rule
 * graph (`expected` lists the action node ids that fire). `data` maps 1:1 onto database rows:
 * `contact` → a `contacts` row, `tags` → `contact_tags`, `stats` → `contact_daily_stats`,
 * `events` → `events`; `event` is the triggering event, `now` / `tzOffsetMinutes` the clock.
 * `contact.departmentPath` is not a column: the D1 runner stores it as `departments.path` of
 * the contact's department (and of every department on it), as the loaders join it back.
 * `segments` are the segments a graph case's "in segment X" conditions name (as stored rows).
 */
import { contactWithDefaults } from '../contact-defaults';
import type { EvalData, JsonLogic, RuleGraph } from '../types';
import type { CompileOptions, SegmentSource } from '../compile';
import text from './text.json';
import number from './number.json';
import date from './date.json';
import tags from './tags.json';
import aggregates from './aggregates.json';
import keyword from './keyword.json';
import bucket from './bucket.json';
import custom from './custom.json';
import logic from './logic.json';
import graphs from './graphs.json';
import bands from './bands.json';
import departments from './departments.json';
import segments from './segments.json';

/** 2026-03-15 10:00 in Asia/Shanghai: the default clock of the cases. */
export const CONFORMANCE_NOW = 1_773_540_000_000;

/** A case as stored. */
export interface ConformanceCase {
  description: string;
  rule: JsonLogic | RuleGraph;
  data: Partial<EvalData> & { contact?: Record<string, unknown> };
  expected: boolean | string[];
  segments?: SegmentSource[];
}

/** What a case compiles with: a resolver over its segments (segment references expand them). */
export function caseCompileOptions(c: ConformanceCase): CompileOptions {
  const byId = new Map((c.segments ?? []).map((s) => [s.id, s]));
  return { segments: { get: (id) => byId.get(id) } };
}

/** Every case, its description prefixed with its file. */
export const CONFORMANCE_CASES: ConformanceCase[] = Object.entries({
  text,
  number,
  date,
  tags,
  aggregates,
  keyword,
  bucket,
  custom,
  logic,
  graphs,
  bands,
  departments,
  segments,
}).flatMap(([file, cases]) => (cases as unknown as ConformanceCase[]).map((c) => ({ ...c, description: `${file}: ${c.description}` })));

/** Whether a case's rule is a graph (else a JSON Logic predicate). */
export function isGraphCase(c: ConformanceCase): c is ConformanceCase & { rule: RuleGraph; expected: string[] } {
  return typeof c.rule === 'object' && c.rule !== null && !Array.isArray(c.rule) && 'nodes' in c.rule;
}

/**
 * The contact exactly as the database will hold it: the DB's defaults filled in, so the JS
 * evaluators see what SQL sees (a case that omits `gender` sees 'unknown' on both sides).
 */
export function normalizeContact(contact: Record<string, unknown> = {}, id = 1): Record<string, unknown> {
  return {
    ...contactWithDefaults({ id, kind: 'friend', externalId: `conf-${id}`, name: '测试联系人', bucket: 0, at: 1_700_000_000_000 }),
    ...contact,
  };
}

/** The evaluation data of a case, normalised as above. */
export function caseData(c: ConformanceCase, id = 1): EvalData {
  return {
    ...c.data,
    contact: normalizeContact(c.data.contact, id),
    tags: c.data.tags ?? [],
    stats: c.data.stats ?? [],
    events: c.data.events ?? [],
    event: c.data.event ?? null,
    now: c.data.now ?? CONFORMANCE_NOW,
    tzOffsetMinutes: c.data.tzOffsetMinutes ?? 480,
  };
}

/** `contacts` column name (snake_case) for each key of a normalised contact. */
export function contactColumns(contact: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(contact)) {
    // the department path is `departments.path`, not a contact column: the D1 runner inserts it there
    if (k === 'departmentPath') continue;
    row[k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)] = k === 'custom' ? JSON.stringify(v) : v;
  }
  return row;
}
