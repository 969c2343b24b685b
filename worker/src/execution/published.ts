/**
 * Published rules, compiled once per rule version and kept at isolate scope.
 *
 * Every webhook request reads the list of published (rule id, version, trigger, share) — one
 * small indexed query inside the request's first D1 batch — and compares it with the cached
 * one: a publish, a new share or an unpublish is seen by the very next request in every
 * isolate, and only versions never seen before are fetched and compiled.
 *
 * The same statement carries the rights each version runs on (its publisher, the groups of its
 * action tags: `RUN_RIGHTS_COLUMNS`, worker/src/rules/rights.ts), so a version whose rights were
 * lost is left out and paused before anything runs, on the webhook path and the cron alike, at
 * no extra round trip (one more batch only on the run that pauses it).
 */
import { compileRule, type CompiledRule } from '../../../shared/src/rules/compile';
import { evaluatorFor, ruleEvaluatorFor, type RuleEvaluator } from '../../../shared/src/rules/evaluate';
import { dataNeeds, type DataNeeds } from '../../../shared/src/rules/needs';
import type { CustomFieldDecl } from '../../../shared/src/rules/fields';
import type { ActionSpec, EvalData, JsonLogic } from '../../../shared/src/rules/types';
import type { RuleRightsProblem } from '../../../shared/src/api/rules';
import { keepRunnable, RUN_RIGHTS_COLUMNS, type RunRightsRow } from '../rules/rights';

/** One row of `publishedStatement`. */
export interface PublishedRow extends RunRightsRow {
  id: number;
  version: number;
  trigger: string;
  rollout_percent: number;
  /** JSON array of the ids of the rule's department and everything below it; null: company-wide. */
  department_ids: string | null;
}

/** A published rule version, ready to evaluate. */
export interface PublishedRule {
  id: number;
  version: number;
  /** The event type it listens to, or 'schedule'. */
  trigger: string;
  rolloutPercent: number;
  /** Contacts of these departments only (the rule's department subtree); null: every contact. */
  departmentIds: Set<number> | null;
  compiled: CompiledRule | null;
  /** Action node ids that fire for a contact. */
  evaluate: RuleEvaluator;
  actionsById: Map<string, ActionSpec>;
}

/** Tag facts the in-memory simulation needs (exclusive groups, retired tags). */
export interface TagInfo {
  groupId: number;
  exclusive: boolean;
  active: boolean;
}

/** What the hot path uses: event-triggered rules by event type, and the history they read. */
export interface RuleSet {
  stamp: string;
  rules: PublishedRule[];
  byTrigger: Map<string, PublishedRule[]>;
  needs: DataNeeds;
  tags: Map<number, TagInfo>;
  /** Published versions this read found without the rights they run on: paused, not run. */
  paused: { id: number; version: number; problems: RuleRightsProblem[] }[];
}

/** The published list: rules whose status is 'published', with their published version's trigger and share. */
export const PUBLISHED_SQL = `SELECT r.id AS id, r.published_version AS version, v.trigger AS trigger, v.rollout_percent AS rollout_percent,
    CASE WHEN r.department_id IS NULL THEN NULL ELSE
      (SELECT json_group_array(sub.id) FROM departments d JOIN departments sub ON sub.path LIKE d.path || '%' WHERE d.id = r.department_id) END AS department_ids,
    ${RUN_RIGHTS_COLUMNS}
  FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.published_version
  WHERE r.status = 'published' ORDER BY r.id`;

export function publishedStatement(db: D1Database): D1PreparedStatement {
  return db.prepare(PUBLISHED_SQL);
}

const versions = new Map<string, PublishedRule>();
let current: RuleSet | null = null;
let tagsLoadedAt = 0;
/** Tag facts only steer the in-memory view between events of one request; SQL decides the real state. */
const TAG_INFO_TTL_MS = 30_000;

const keyOf = (id: number, version: number) => `rule:${id}@v${version}`;
const stampOf = (rows: PublishedRow[]) => rows.map((r) => `${r.id}@${r.version}:${r.trigger}:${r.rollout_percent}:${r.department_ids}`).join(',');
const departmentSet = (ids: string | null) => (ids === null ? null : new Set(JSON.parse(ids) as number[]));

function build(row: PublishedRow, graph: unknown, logic: unknown, customFields: CustomFieldDecl[]): PublishedRule {
  const key = keyOf(row.id, row.version);
  const nodes = (graph as { nodes?: { id: string; kind: string; action?: ActionSpec }[] } | null)?.nodes ?? [];
  const actionsById = new Map(nodes.filter((n) => n.kind === 'action' && n.action).map((n) => [n.id, n.action as ActionSpec]));
  const compiled = compileRule(graph, { customFields });
  if (compiled.ok) {
    return {
      id: row.id,
      version: row.version,
      trigger: row.trigger,
      rolloutPercent: row.rollout_percent,
      departmentIds: departmentSet(row.department_ids),
      compiled: compiled.value,
      evaluate: ruleEvaluatorFor(key, compiled.value),
      actionsById: new Map(compiled.value.actions.map((a) => [a.nodeId, a.action])),
    };
  }
  // A published version the current compiler refuses (e.g. a custom field since deleted):
  // run the JSON Logic frozen at publish time, so behaviour does not change under it.
  console.error(`rule ${row.id} v${row.version} no longer compiles; running its stored logic`, compiled.errors);
  const fn = evaluatorFor(key, logic as JsonLogic);
  return {
    id: row.id,
    version: row.version,
    trigger: row.trigger,
    rolloutPercent: row.rollout_percent,
    departmentIds: departmentSet(row.department_ids),
    compiled: null,
    evaluate: (d: EvalData) => {
      const out = fn(d);
      return Array.isArray(out) ? out.map(String) : [];
    },
    actionsById,
  };
}

/**
 * The rule set for the published rows just read. Cached while the rows stay the same; new
 * versions are fetched (graph, stored logic) and compiled once.
 */
export async function ruleSetFor(db: D1Database, published: PublishedRow[], now: number): Promise<RuleSet> {
  const { rows, paused } = await keepRunnable(db, published, now);
  const stamp = stampOf(rows);
  if (current && current.stamp === stamp && now - tagsLoadedAt < TAG_INFO_TTL_MS) return paused.length || current.paused.length ? { ...current, paused } : current;
  const missing = rows.filter((r) => !versions.has(keyOf(r.id, r.version)));
  const [tagRows, customRows, versionRows] = await db.batch([
    db.prepare('SELECT t.id AS id, t.group_id AS group_id, g.exclusive AS exclusive, t.status AS status FROM tags t JOIN tag_groups g ON g.id = t.group_id'),
    db.prepare('SELECT key, label_zh, label_en, type FROM custom_fields'),
    db
      .prepare(
        `SELECT v.rule_id AS rule_id, v.version AS version, v.graph AS graph, v.logic AS logic
         FROM json_each(?) j JOIN rule_versions v ON v.rule_id = json_extract(j.value, '$[0]') AND v.version = json_extract(j.value, '$[1]')`,
      )
      .bind(JSON.stringify(missing.map((r) => [r.id, r.version]))),
  ]);
  const customFields = (customRows?.results ?? []).map((f) => {
    const r = f as { key: string; label_zh: string; label_en: string; type: CustomFieldDecl['type'] };
    return { key: r.key, labelZh: r.label_zh, labelEn: r.label_en, type: r.type };
  });
  for (const v of (versionRows?.results ?? []) as { rule_id: number; version: number; graph: string; logic: string }[]) {
    const row = missing.find((r) => r.id === v.rule_id && r.version === v.version) as PublishedRow;
    versions.set(keyOf(row.id, row.version), build(row, safeJson(v.graph), safeJson(v.logic), customFields));
  }
  const rules: PublishedRule[] = [];
  for (const r of rows) {
    const known = versions.get(keyOf(r.id, r.version));
    if (!known) continue;
    // The share and trigger live on the version row and may change without a new version.
    rules.push({ ...known, trigger: r.trigger, rolloutPercent: r.rollout_percent, departmentIds: departmentSet(r.department_ids) });
  }
  // Forget versions no longer published.
  const live = new Set(rows.map((r) => keyOf(r.id, r.version)));
  for (const k of versions.keys()) if (!live.has(k)) versions.delete(k);

  const byTrigger = new Map<string, PublishedRule[]>();
  for (const r of rules) {
    if (r.trigger === 'schedule') continue;
    byTrigger.set(r.trigger, [...(byTrigger.get(r.trigger) ?? []), r]);
  }
  const tags = new Map<number, TagInfo>();
  for (const t of (tagRows?.results ?? []) as { id: number; group_id: number; exclusive: number; status: string }[]) {
    tags.set(t.id, { groupId: t.group_id, exclusive: !!t.exclusive, active: t.status === 'active' });
  }
  const needs = dataNeeds(rules.filter((r) => r.trigger !== 'schedule' && r.compiled).map((r) => r.compiled as CompiledRule));
  // Rules running their stored logic: their windows are unknown here, so load the longest.
  if (rules.some((r) => !r.compiled)) {
    needs.statsDays = Math.max(needs.statsDays, 366);
    needs.eventsDays = Math.max(needs.eventsDays, 366);
  }
  current = { stamp, rules, byTrigger, needs, tags, paused };
  tagsLoadedAt = now;
  return current;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Drops the isolate's cache (tests; a publish in this isolate could call it too). */
export function forgetPublishedRules(): void {
  versions.clear();
  current = null;
}
