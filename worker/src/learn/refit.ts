/**
 * Refitting a learned rule (issue 19): the suggestion a rule was made from is learned again on
 * today's data, as a new suggestion (`params.refit` names the rule and where it came from), on
 * demand or by the weekly cron. Nothing changes on the rule until a person looks at the diff and
 * applies the refit: its tree then becomes the rule's draft, published (or not) through the
 * ordinary preview and publish dialog. The diff is counted by the preview's own machinery: the
 * net change is `countRule` (what the publish dialog shows and publishing writes), and who moves
 * is the refit's targets against the published version's, built by `buildTargetsQuery`.
 *
 * A rule "holds" a suggestion when the rule id is in the suggestion's `rule_ids` (its draft was
 * made from it, or it was applied); the newest such finished one is the rule's fit.
 */
import type { SessionUser } from '@shared/api/auth';
import type {
  SuggestionDetail,
  SuggestionDiffResponse,
  SuggestionForRuleResponse,
  SuggestionMove,
  SuggestionParams,
  SuggestionResult,
} from '@shared/api/suggestions';
import { parseJsonOr } from '@shared/json';
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import { netFormulas } from '@shared/rules/net-effect';
import type { SqlContext, SqlFrag } from '@shared/rules/operators';
import { buildTargetsQuery } from '@shared/rules/sql';
import type { RuleGraph } from '@shared/rules/types';
import { auditInsert, AuditSql, auditStatement } from '../audit';
import { inScope, outOfScope, type Actor } from '../auth/access';
import { batch } from '../db/rows';
import { ApiError } from '../errors';
import { compileOptions, loadWorkspace, previewContext, type Workspace } from '../rules/context';
import { conflict } from '../rules/detail';
import { requireRuleRights } from '../rules/rights';
import { countRule, netPlanOf, ruleScope } from '../rules/rule-preview';
import { withTag } from './draft';
import { queueOrFail, readSuggestion, toDetail, type SuggestionRow } from './store';

/** A rule is refitted by the cron when its newest fit is older than this. */
export const REFIT_AFTER_DAYS = 7;
/** At most this many refits are queued per cron pass (each is a training job). */
const REFITS_PER_PASS = 2;
/** Contacts listed per side of the diff. */
const MOVE_SAMPLE = 5;

interface RuleRef {
  id: number;
  name: string;
  status: string;
  draft_graph: string;
  published_version: number | null;
  department_path: string | null;
}

async function readRule(db: D1Database, id: number): Promise<RuleRef | null> {
  return db
    .prepare(
      `SELECT r.id, r.name, r.status, r.draft_graph, r.published_version, d.path AS department_path
       FROM rules r LEFT JOIN departments d ON d.id = r.department_id WHERE r.id = ?`,
    )
    .bind(id)
    .first<RuleRef>();
}

/** The rule if `user` may see it, else 404 (recorded as out of scope when it exists elsewhere). */
async function visibleRule(db: D1Database, user: SessionUser, id: number): Promise<RuleRef> {
  const rule = await readRule(db, id);
  if (!rule) throw new ApiError(404, 'not_found', `No rule with id ${id}`);
  if (!inScope(user, rule.department_path)) throw outOfScope('rule', id);
  return rule;
}

const holds = (row: SuggestionRow, ruleId: number) => parseJsonOr<number[]>(row.rule_ids, []).includes(ruleId);
const paramsOf = (row: SuggestionRow) => parseJsonOr<SuggestionParams | null>(row.params, null);

/** Suggestions that name rule `ruleId`: held by it, or refits for it. Newest first. */
async function suggestionsOfRule(db: D1Database, ruleId: number): Promise<SuggestionRow[]> {
  const rows = await db
    .prepare(
      `SELECT s.*, d.path AS department_path FROM rule_suggestions s LEFT JOIN departments d ON d.id = s.department_id
       WHERE EXISTS (SELECT 1 FROM json_each(s.rule_ids) j WHERE j.value = ?1) OR json_extract(s.params, '$.refit.ruleId') = ?1
       ORDER BY s.id DESC LIMIT 50`,
    )
    .bind(ruleId)
    .all<SuggestionRow>();
  return rows.results;
}

/** `GET /api/suggestions/by-rule/:ruleId`. */
export async function suggestionsForRule(db: D1Database, user: SessionUser, ruleId: number): Promise<SuggestionForRuleResponse> {
  await visibleRule(db, user, ruleId);
  const rows = (await suggestionsOfRule(db, ruleId)).filter((r) => inScope(user, r.department_path));
  const fit = rows.find((r) => r.status === 'done' && holds(r, ruleId)) ?? null;
  const refit = rows.find((r) => !holds(r, ruleId) && paramsOf(r)?.refit?.ruleId === ruleId && (!fit || r.id > fit.id)) ?? null;
  return { fit: fit && toDetail(fit, true), refit: refit && toDetail(refit, true) };
}

/** The tag a rule's learned leaves add: its published graph's first add-tag, else its draft's. */
async function ruleTag(db: D1Database, rule: Pick<RuleRef, 'id' | 'draft_graph' | 'published_version'>): Promise<number | null> {
  const published = rule.published_version
    ? await db
        .prepare('SELECT graph FROM rule_versions WHERE rule_id = ? AND version = ?')
        .bind(rule.id, rule.published_version)
        .first<{ graph: string }>()
    : null;
  for (const text of [published?.graph, rule.draft_graph]) {
    const g = parseJsonOr<RuleGraph | null>(text ?? null, null);
    for (const n of g?.nodes ?? []) if (n.kind === 'action' && n.action.type === 'add_tag') return n.action.tagId;
  }
  return null;
}

/** The tag a refit's draft adds: its rule's (the job names it so the result reads like the rule). */
export async function refitTag(db: D1Database, params: SuggestionParams): Promise<number | null> {
  if (!params.refit) return null;
  const rule = await readRule(db, params.refit.ruleId);
  return rule ? ruleTag(db, rule) : null;
}

/**
 * Queues a refit of `from` for rule `rule` (`createdBy` null: the cron). One at a time per rule:
 * 409 while another is queued or running. Answers the new suggestion.
 */
async function queueRefit(
  env: Env,
  from: SuggestionRow,
  rule: Pick<RuleRef, 'id' | 'name'>,
  actor: Actor | null,
  createdBy: number | null,
  now: number,
): Promise<number> {
  const db = env.DB;
  const pending = await db
    .prepare(`SELECT id FROM rule_suggestions WHERE status IN ('queued', 'running') AND json_extract(params, '$.refit.ruleId') = ? LIMIT 1`)
    .bind(rule.id)
    .first<{ id: number }>();
  if (pending)
    throw conflict(`Rule ${rule.id} is being re-learned already (suggestion ${pending.id})`, [
      { path: 'ruleId', message: 'refit under way' },
    ]);
  const base = paramsOf(from);
  if (!base) throw conflict(`Suggestion ${from.id} has no parameters to learn again`);
  const { refit: _drop, ...request } = base;
  const params: SuggestionParams = { ...request, refit: { from: from.id, ruleId: rule.id } };
  const [insert] = await batch(db, [
    db
      .prepare(
        `INSERT INTO rule_suggestions (department_id, status, params, outcome_name, created_by, created_at, updated_at)
         VALUES (?, 'queued', ?, ?, ?, ?, ?)`,
      )
      .bind(from.department_id, JSON.stringify(params), from.outcome_name, createdBy, now, now),
    auditInsert(db, {
      at: now,
      actor,
      action: 'suggestion.refit',
      objectType: 'suggestion',
      objectId: new AuditSql('CAST(last_insert_rowid() AS TEXT)'),
      summary: `re-learned rule "${rule.name}" on fresh data (from suggestion ${from.id})`,
      params: { name: rule.name, suggestion: from.id },
      after: { params, ruleId: rule.id },
    }),
  ]);
  const id = insert.meta.last_row_id;
  await queueOrFail(env, id);
  return id;
}

/** `POST /api/suggestions/:id/refit`: `from` must be held by the rule (its draft was made from it, or it was applied). */
export async function refitForUser(
  env: Env,
  user: SessionUser,
  actor: Actor,
  from: SuggestionRow,
  ruleId: number,
): Promise<SuggestionDetail> {
  const rule = await visibleRule(env.DB, user, ruleId);
  if (!holds(from, ruleId))
    throw conflict(`Rule ${ruleId} was not made from suggestion ${from.id}: refit the suggestion the rule holds`, [
      { path: 'ruleId', message: `not made from suggestion ${from.id}` },
    ]);
  if (rule.status === 'archived') throw conflict(`Rule ${ruleId} is archived`, [{ path: 'ruleId', message: 'archived' }]);
  const id = await queueRefit(env, from, rule, actor, user.id, Date.now());
  return toDetail((await readSuggestion(env.DB, id))!, true);
}

/**
 * The weekly refit, from the cron: published rules holding a finished suggestion, with no
 * suggestion about them (fit or refit, any outcome) newer than `REFIT_AFTER_DAYS`, a few per
 * pass. One indexed-enough query over two small tables; the caller runs it once an hour.
 */
export async function queueDueRefits(env: Env, now: number): Promise<number[]> {
  const db = env.DB;
  const due = await db
    .prepare(
      `SELECT r.id, r.name,
         (SELECT s.id FROM rule_suggestions s WHERE s.status = 'done'
            AND EXISTS (SELECT 1 FROM json_each(s.rule_ids) j WHERE j.value = r.id) ORDER BY s.id DESC LIMIT 1) AS fit_id
       FROM rules r
       WHERE r.status = 'published'
         AND fit_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM rule_suggestions s WHERE s.created_at > ?
            AND (EXISTS (SELECT 1 FROM json_each(s.rule_ids) j WHERE j.value = r.id) OR json_extract(s.params, '$.refit.ruleId') = r.id))
       ORDER BY r.id LIMIT ?`,
    )
    .bind(now - REFIT_AFTER_DAYS * 86_400_000, REFITS_PER_PASS)
    .all<{ id: number; name: string; fit_id: number }>();
  const queued: number[] = [];
  for (const r of due.results) {
    const from = await readSuggestion(db, r.fit_id);
    if (from) queued.push(await queueRefit(env, from, r, null, null, now));
  }
  return queued;
}

/** A finished refit and its rule, or 409 naming what is missing. */
async function finishedRefit(db: D1Database, user: SessionUser, row: SuggestionRow) {
  const params = paramsOf(row);
  const result = parseJsonOr<SuggestionResult | null>(row.result, null);
  if (!params?.refit) throw conflict(`Suggestion ${row.id} is not a refit of a rule`, [{ path: 'id', message: 'not a refit' }]);
  if (row.status !== 'done' || !result)
    throw conflict(`Suggestion ${row.id} is ${row.status}: only a finished refit can be compared or applied`, [
      { path: 'id', message: `suggestion is ${row.status}` },
    ]);
  const rule = await visibleRule(db, user, params.refit.ruleId);
  const tagId = await ruleTag(db, rule);
  if (tagId === null)
    throw conflict(`Rule ${rule.id} adds no tag any more: nothing to compare`, [{ path: 'ruleId', message: 'no add-tag action' }]);
  return { rule, graph: withTag(result.graph, tagId), tagId };
}

/** Who a compiled rule would give `tagId` (its net add formula), as a `SELECT id` fragment. */
function tagTargets(rule: CompiledRule, ws: Workspace, tagId: number, ctx: SqlContext, scope: SqlFrag | undefined) {
  const f = netFormulas(rule, netPlanOf(rule, ws)).find((x) => x.tagId === tagId)?.add ?? null;
  if (!f) return { ok: true as const, value: { sql: 'SELECT id FROM contacts WHERE 0', params: [] as unknown[] } };
  return buildTargetsQuery(rule, ctx, f, scope ? { scope } : {});
}

/** `GET /api/suggestions/:id/diff`. */
export async function refitDiff(env: Env, user: SessionUser, row: SuggestionRow): Promise<SuggestionDiffResponse> {
  const db = env.DB;
  const { rule, graph, tagId } = await finishedRefit(db, user, row);
  const published = rule.published_version
    ? await db
        .prepare('SELECT graph, version, rollout_percent FROM rule_versions WHERE rule_id = ? AND version = ?')
        .bind(rule.id, rule.published_version)
        .first<{ graph: string; version: number; rollout_percent: number }>()
    : null;
  const ws = await loadWorkspace(db);
  const ctx = previewContext(env, Date.now());
  // the contacts the published version covers (its share), as publishing the refit would keep it
  const scope = ruleScope(rule.id, published?.rollout_percent ?? 100, rule.department_path);
  const counted = await countRule(db, ws, graph, ctx, scope);
  if (!counted.ok) return { ok: false, errors: counted.errors };
  const next = tagTargets(counted.value.rule, ws, tagId, ctx, scope);
  if (!next.ok) return { ok: false, errors: next.errors };
  let prev: { sql: string; params: unknown[] } = { sql: 'SELECT id FROM contacts WHERE 0', params: [] };
  if (published) {
    const old = compileRule(parseJsonOr<unknown>(published.graph, null), compileOptions(ws));
    if (!old.ok) return { ok: false, errors: old.errors };
    const q = tagTargets(old.value, ws, tagId, ctx, scope);
    if (!q.ok) return { ok: false, errors: q.errors };
    prev = q.value;
  }
  const total = counted.value.counts.total;
  const move = async (a: typeof prev, b: typeof prev): Promise<SuggestionMove> => {
    const only = `${a.sql} EXCEPT ${b.sql}`;
    const params = [...a.params, ...b.params];
    const [n, sample] = await batch(db, [
      db.prepare(`SELECT COUNT(*) AS n FROM (${only})`).bind(...params),
      db.prepare(`SELECT id, name FROM contacts WHERE id IN (${only}) ORDER BY id LIMIT ${MOVE_SAMPLE}`).bind(...params),
    ]);
    const count = (n.results[0] as { n: number } | undefined)?.n ?? 0;
    return { count, share: total > 0 ? count / total : 0, sample: sample.results as { id: number; name: string }[] };
  };
  return {
    ok: true,
    ruleId: rule.id,
    published: published ? { version: published.version } : null,
    tagId,
    total,
    gain: await move(next.value, prev),
    lose: await move(prev, next.value),
    net: counted.value.counts,
  };
}

/**
 * `POST /api/suggestions/:id/apply`: the refit's tree becomes its rule's draft (rights as for
 * saving a draft), and the rule holds the refit from then on. Publishing is the person's next step.
 */
export async function applyRefit(db: D1Database, user: SessionUser, actor: Actor, row: SuggestionRow): Promise<number> {
  const { rule, graph } = await finishedRefit(db, user, row);
  if (rule.status === 'archived') throw conflict(`Rule ${rule.id} is archived`, [{ path: 'ruleId', message: 'archived' }]);
  await requireRuleRights(db, user, graph);
  const now = Date.now();
  await batch(db, [
    db
      .prepare('UPDATE rules SET draft_graph = ?, updated_at = max(?, updated_at + 1) WHERE id = ?')
      .bind(JSON.stringify(graph), now, rule.id),
    db
      .prepare(
        `UPDATE rule_suggestions SET rule_ids = json_insert(rule_ids, '$[#]', ?), updated_at = ?
         WHERE id = ? AND NOT EXISTS (SELECT 1 FROM json_each(rule_ids) WHERE value = ?)`,
      )
      .bind(rule.id, now, row.id, rule.id),
    auditStatement(db, {
      at: now,
      actor,
      action: 'rule.from_refit',
      objectType: 'rule',
      objectId: rule.id,
      summary: `saved re-learned suggestion ${row.id} as the draft of rule "${rule.name}"`,
      params: { name: rule.name, suggestion: row.id },
      before: { draftGraph: parseJsonOr<unknown>(rule.draft_graph, null) },
      after: { draftGraph: graph, suggestion: row.id },
    }),
  ]);
  return rule.id;
}
