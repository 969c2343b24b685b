/**
 * Published rules, compiled once per rule version and kept at isolate scope.
 *
 * Every webhook request reads the list of published (rule id, version, trigger, share) — one
 * small indexed query inside the request's first D1 batch — and compares it with the cached
 * one: a publish, a new share or an unpublish is seen by the very next request in every
 * isolate, and only versions never seen before are fetched and compiled.
 *
 * The same statement carries the rights each version runs on (worker/src/rules/rights.ts): per
 * row its publisher, and in one leading row (id 0) the groups of every tag the cached versions'
 * actions apply (their ids are bound from this isolate's cache, so graphs are not walked per
 * request). A version whose rights were lost is left out and paused before anything runs, on
 * the webhook path and the cron alike, at no extra round trip (one more batch only on the run
 * that pauses it).
 *
 * A rule with a condition "in segment X" is compiled with X's graph as it stands (the compiler
 * expands it). The leading row also carries a stamp of the segments table (count and the sum of
 * `updated_at`, which every save raises), so an edit of a segment is seen by the next request too:
 * the cached versions that expanded any segment are compiled again, the others are kept.
 */
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import { segmentReferences } from '@shared/rules/segment';
import { evaluatorFor, ruleEvaluatorFor, type RuleEvaluator } from '@shared/rules/evaluate';
import { dataNeeds, type DataNeeds } from '@shared/rules/needs';
import type { CustomFieldDecl } from '@shared/rules/fields';
import { bandActionId, isTagAction, type ActionSpec, type EvalData, type JsonLogic } from '@shared/rules/types';
import { netPlanOver, type NetPlan } from '@shared/rules/net-effect';
import type { RuleRightsProblem } from '@shared/api/rules';
import {
  keepRunnable,
  parseTagFacts,
  PUBLISHER_COLUMNS,
  TAG_FACTS_JSON,
  type ActionRef,
  type PublisherRow,
  type TagFacts,
} from '../rules/rights';
import { parseJsonOr } from '@shared/json';
import {
  customFieldsStatement,
  segmentResolver,
  segmentsStatement,
  toCustomFieldDecl,
  toWorkspaceSegment,
  type WorkspaceSegment,
} from '../rules/context';
import { batch, typed, type Typed, type RuleVersionRow, type TagGroupRow, type TagRow } from '../db/rows';

/** What the evaluators' net plan needs of every tag: its group and whether that is exclusive. */
type TagInfoRow = Pick<TagRow, 'id' | 'group_id' | 'status'> & Pick<TagGroupRow, 'exclusive'>;
type TagFactsRow = { tag_facts: string | null };

/** One row of `publishedStatement`. */
export interface PublishedRow extends PublisherRow {
  id: number;
  version: number;
  trigger: string;
  rollout_percent: number;
  /** JSON array of the ids of the rule's department and everything below it; null: company-wide. */
  department_ids: string | null;
  /** Only on the leading row (id 0): the facts of the bound action tags (`parseTagFacts`). */
  tag_facts: string | null;
  /** Only on the leading row (id 0): the segments' stamp (count:sum of updated_at). */
  segments_stamp?: string | null;
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
  /** How its fired actions combine into one net change, over the current tag groups. */
  net: NetPlan;
  /** Segments expanded into it (conditions "in segment X"): it is compiled again when segments change. */
  segmentIds: number[];
  /** The segments' stamp it was compiled at. */
  segmentsStamp: string;
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

/**
 * The published list: rules whose status is 'published', with their published version's trigger,
 * share and publisher; led by one row (id 0) holding the facts of the action tags bound as `?`.
 */
export const PUBLISHED_SQL = `SELECT 0 AS id, 0 AS version, '' AS trigger, 0 AS rollout_percent, NULL AS department_ids,
    NULL AS rule_name, NULL AS rule_path, NULL AS publisher_id, NULL AS publisher,
    (SELECT json_group_array(${TAG_FACTS_JSON}) FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE t.id IN (SELECT value FROM json_each(?))) AS tag_facts,
    (SELECT count(*) || ':' || coalesce(sum(updated_at), 0) FROM segments) AS segments_stamp
  UNION ALL
  SELECT r.id AS id, r.published_version AS version, v.trigger AS trigger, v.rollout_percent AS rollout_percent,
    CASE WHEN r.department_id IS NULL THEN NULL ELSE
      (SELECT json_group_array(sub.id) FROM departments d JOIN departments sub ON instr(sub.path, d.path) = 1 WHERE d.id = r.department_id) END AS department_ids,
    ${PUBLISHER_COLUMNS}, NULL AS tag_facts, NULL AS segments_stamp
  FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.published_version
  WHERE r.status = 'published' ORDER BY id`;

/** The published list, with the facts of the tags this isolate's cached versions apply. */
export function publishedStatement(db: D1Database): D1PreparedStatement {
  return db.prepare(PUBLISHED_SQL).bind(JSON.stringify(cachedActionTagIds()));
}

/** Facts of the action tags of rule versions (by `[rule id, version]` pairs), walking their graphs once. */
const VERSION_TAG_FACTS_SQL = `SELECT json_group_array(${TAG_FACTS_JSON}) AS tag_facts FROM tags t JOIN tag_groups g ON g.id = t.group_id
  WHERE t.id IN (SELECT json_extract(n.value, '$.action.tagId')
    FROM json_each(?) j JOIN rule_versions v ON v.rule_id = json_extract(j.value, '$[0]') AND v.version = json_extract(j.value, '$[1]'),
         json_each(CASE WHEN json_valid(v.graph) THEN v.graph ELSE '{}' END, '$.nodes') n
    WHERE json_extract(n.value, '$.kind') = 'action')`;

const versions = new Map<string, PublishedRule>();
const noSuchTag = new Set<number>();
let current: RuleSet | null = null;
let tagsLoadedAt = 0;
/** Tag facts only steer the in-memory view between events of one request; SQL decides the real state. */
const TAG_INFO_TTL_MS = 30_000;

const keyOf = (id: number, version: number) => `rule:${id}@v${version}`;
const stampOf = (rows: PublishedRow[]) =>
  rows.map((r) => `${r.id}@${r.version}:${r.trigger}:${r.rollout_percent}:${r.department_ids}`).join(',');
const departmentSet = (ids: string | null) => (ids === null ? null : new Set(JSON.parse(ids) as number[]));

const NO_PLAN: NetPlan = { tags: [], conflicts: [] };

function build(
  row: PublishedRow,
  graph: unknown,
  logic: unknown,
  customFields: CustomFieldDecl[],
  segments: WorkspaceSegment[],
  segmentsStamp: string,
): PublishedRule {
  const key = keyOf(row.id, row.version);
  // The actions the stored logic may fire: action nodes, and a band node's one add per band
  // (the compiler lowers a band into actions `bandActionId(node, band)`; the stored logic names those).
  const nodes =
    (graph as { nodes?: { id: string; kind: string; action?: ActionSpec; bands?: { id: string; tagId: number }[] }[] } | null)?.nodes ?? [];
  const actionsById = new Map<string, ActionSpec>();
  for (const n of nodes) {
    if (n.kind === 'action' && n.action) actionsById.set(n.id, n.action);
    if (n.kind === 'band' && Array.isArray(n.bands))
      for (const b of n.bands) actionsById.set(bandActionId(n.id, b.id), { type: 'add_tag', tagId: b.tagId });
  }
  const compiled = compileRule(graph, { customFields, segments: segmentResolver(segments) });
  const base = {
    id: row.id,
    version: row.version,
    trigger: row.trigger,
    rolloutPercent: row.rollout_percent,
    departmentIds: departmentSet(row.department_ids),
    net: NO_PLAN,
    // one that no longer compiles is tried again when segments change (a referenced one fixed)
    segmentIds: compiled.ok ? compiled.value.segmentIds : segmentReferences(graph).map((r) => r.segmentId),
    segmentsStamp,
  };
  if (compiled.ok) {
    return {
      ...base,
      compiled: compiled.value,
      // keyed on what it expanded too: each referenced segment at its current `updated_at`
      evaluate: ruleEvaluatorFor(expansionKey(key, compiled.value.segmentIds, segments), compiled.value),
      actionsById: new Map(compiled.value.actions.map((a) => [a.nodeId, a.action])),
    };
  }
  // A published version the current compiler refuses (e.g. a custom field since deleted, a
  // referenced segment edited into a draft that does not compile): run the JSON Logic frozen at
  // publish time, so behaviour does not change under it.
  console.error(`rule ${row.id} v${row.version} no longer compiles; running its stored logic`, compiled.errors);
  const fn = evaluatorFor(key, logic as JsonLogic);
  const evaluate = (d: EvalData) => {
    const out = fn(d);
    return Array.isArray(out) ? out.map(String) : [];
  };
  return { ...base, compiled: null, evaluate, actionsById };
}

/** A version's evaluator key: the version, and each segment expanded into it at its `updated_at`. */
function expansionKey(key: string, segmentIds: readonly number[], segments: readonly WorkspaceSegment[]): string {
  if (!segmentIds.length) return key;
  const at = new Map(segments.map((s) => [s.id, s.updatedAt]));
  return `${key}+${segmentIds.map((id) => `s${id}@${at.get(id) ?? 0}`).join(',')}`;
}

/** The action tags of every cached version, bound into the published list's statement. */
function cachedActionTagIds(): number[] {
  const ids = new Set<number>();
  for (const v of versions.values()) for (const a of v.actionsById.values()) if (isTagAction(a)) ids.add(a.tagId);
  return [...ids].sort((a, b) => a - b);
}

const actionsOf = (r: PublishedRow): ActionRef[] =>
  [...(versions.get(keyOf(r.id, r.version))?.actionsById ?? new Map<string, ActionSpec>()).entries()].flatMap(([nodeId, a]) =>
    isTagAction(a) ? [{ nodeId, tagId: a.tagId }] : [],
  );

/**
 * The rule set for the published rows just read. Cached while the rows stay the same; new
 * versions are fetched (graph, stored logic, their action tags' facts) and compiled once.
 * Rows whose publisher's rights no longer cover their actions are paused and left out.
 */
export async function ruleSetFor(db: D1Database, read: PublishedRow[], now: number): Promise<RuleSet> {
  const facts = new Map<number, TagFacts>();
  for (const r of read) if (r.id === 0) parseTagFacts(r.tag_facts, facts);
  const segmentsStamp = read.find((r) => r.id === 0)?.segments_stamp ?? '';
  // versions that expanded a segment, compiled before the segments last changed: compile again
  for (const [k, v] of versions) if (v.segmentIds.length && v.segmentsStamp !== segmentsStamp) versions.delete(k);
  const published = read.filter((r) => r.id !== 0);
  const missing = published.filter((r) => !versions.has(keyOf(r.id, r.version)));
  let tagRows = missing.length ? await compileMissing(db, missing, facts, segmentsStamp) : undefined;
  await bindUnboundFacts(db, published, facts);
  const { rows, paused } = await keepRunnable(db, published, actionsOf, facts, now);
  const stamp = `${stampOf(rows)}|${segmentsStamp}`;
  if (current && current.stamp === stamp && now - tagsLoadedAt < TAG_INFO_TTL_MS)
    return paused.length || current.paused.length ? { ...current, paused } : current;
  tagRows ??= (await tagInfoStatement(db).all<TagInfoRow>()).results;
  const tags = new Map<number, TagInfo>();
  for (const t of tagRows) tags.set(t.id, { groupId: t.group_id, exclusive: !!t.exclusive, active: t.status === 'active' });
  const tagRowsForPlan = [...tags].map(([id, t]) => ({ id, groupId: t.groupId, exclusive: t.exclusive }));
  const rules: PublishedRule[] = [];
  for (const r of rows) {
    const known = versions.get(keyOf(r.id, r.version));
    if (!known) continue;
    // The share and trigger live on the version row and may change without a new version; the
    // net plan follows the tag groups as they are now (as a preview and a publish would).
    const actions = [...known.actionsById].map(([nodeId, action]) => ({ nodeId, action }));
    rules.push({
      ...known,
      trigger: r.trigger,
      rolloutPercent: r.rollout_percent,
      departmentIds: departmentSet(r.department_ids),
      net: netPlanOver(actions, tagRowsForPlan),
    });
  }
  // Forget versions no longer published.
  const live = new Set(rows.map((r) => keyOf(r.id, r.version)));
  for (const k of versions.keys()) if (!live.has(k)) versions.delete(k);

  const byTrigger = new Map<string, PublishedRule[]>();
  for (const r of rules) {
    if (r.trigger === 'schedule') continue;
    byTrigger.set(r.trigger, [...(byTrigger.get(r.trigger) ?? []), r]);
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

/**
 * Fetches and compiles the versions not cached yet, adding their action tags' facts to `facts`;
 * answers the tag info read in the same batch.
 */
async function compileMissing(
  db: D1Database,
  missing: PublishedRow[],
  facts: Map<number, TagFacts>,
  segmentsStamp: string,
): Promise<TagInfoRow[]> {
  const pairs = JSON.stringify(missing.map((r) => [r.id, r.version]));
  const [tags, customRows, versionRows, missingFacts, segmentRows] = await batch(db, [
    tagInfoStatement(db),
    customFieldsStatement(db),
    typed<Pick<RuleVersionRow, 'rule_id' | 'version' | 'graph' | 'logic'>>(
      db
        .prepare(
          `SELECT v.rule_id AS rule_id, v.version AS version, v.graph AS graph, v.logic AS logic
           FROM json_each(?) j JOIN rule_versions v ON v.rule_id = json_extract(j.value, '$[0]') AND v.version = json_extract(j.value, '$[1]')`,
        )
        .bind(pairs),
    ),
    typed<TagFactsRow>(db.prepare(VERSION_TAG_FACTS_SQL).bind(pairs)),
    segmentsStatement(db),
  ]);
  const segments = segmentRows.results.map(toWorkspaceSegment);
  parseTagFacts(missingFacts.results[0]?.tag_facts ?? null, facts);
  const customFields = customRows.results.map(toCustomFieldDecl);
  for (const v of versionRows.results) {
    const row = missing.find((r) => r.id === v.rule_id && r.version === v.version);
    if (row)
      versions.set(keyOf(row.id, row.version), build(row, safeJson(v.graph), safeJson(v.logic), customFields, segments, segmentsStamp));
  }
  return tags.results;
}

/** A version cached by a concurrent request after this read was prepared: its tags' facts were not bound. */
async function bindUnboundFacts(db: D1Database, published: PublishedRow[], facts: Map<number, TagFacts>): Promise<void> {
  const unbound = [...new Set(published.flatMap((r) => actionsOf(r).map((a) => a.tagId)))].filter(
    (t) => !facts.has(t) && !noSuchTag.has(t),
  );
  if (!unbound.length) return;
  const more = await db
    .prepare(
      `SELECT json_group_array(${TAG_FACTS_JSON}) AS tag_facts FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE t.id IN (SELECT value FROM json_each(?))`,
    )
    .bind(JSON.stringify(unbound))
    .first<TagFactsRow>();
  parseTagFacts(more?.tag_facts ?? null, facts);
  // a tag that does not exist (its version runs its stored logic): do not ask again every request
  for (const t of unbound) if (!facts.has(t)) noSuchTag.add(t);
}

function tagInfoStatement(db: D1Database): Typed<TagInfoRow> {
  return db.prepare(
    'SELECT t.id AS id, t.group_id AS group_id, g.exclusive AS exclusive, t.status AS status FROM tags t JOIN tag_groups g ON g.id = t.group_id',
  );
}

const safeJson = (text: string): unknown => parseJsonOr<unknown>(text, null);
