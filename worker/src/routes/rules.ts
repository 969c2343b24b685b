/**
 * Rules: list, create, draft, lifecycle, versions, compare, preview, explain and publish. The
 * contract (status codes, shapes) is `shared/src/api/rules.ts`. Every change writes its
 * `audit_log` row in the same D1 batch as the change.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { db as drizzleDb } from '../db/client';
import { contactSummaries } from './contacts';
import {
  compareQuery,
  createRuleBody,
  duplicateRuleBody,
  emptyBody,
  explainBody,
  idPath,
  previewBody,
  publishBody,
  ruleListQuery,
  saveDraftBody,
  versionPath,
  type CompareResponse,
  type PublishBody,
  type TagCounts,
  type PublishApplied,
  type PublishResponse,
  type RuleDetail,
  type RuleExplainResponse,
  type RuleListItem,
  type RuleListResponse,
  type RulePausedReason,
  type RulePreviewResponse,
  type RuleVersionDetail,
  type RuleVersionSummary,
  type UserRef,
} from '../../../shared/src/api/rules';
import type { FieldProblem } from '../../../shared/src/api/errors';
import type { EventType, RuleStatus } from '../../../shared/src/domain';
import { compileRule, formulaToLogic, type CompiledRule } from '../../../shared/src/rules/compile';
import { explainRule } from '../../../shared/src/rules/explain';
import { dataNeeds } from '../../../shared/src/rules/needs';
import type { RuleError } from '../../../shared/src/rules/errors';
import type { JsonLogic, RuleGraph, TriggerSpec } from '../../../shared/src/rules/types';
import { auditParams, auditStatement, auditStatementForNewRow, auditStatementIfChanged } from '../audit';
import { actorOf, departmentOwned, findVisibleContact, userScope, inScope, ownerDepartment, requireRole, type Actor } from '../auth/access';
import type { SessionUser } from '../../../shared/src/api/auth';
import { compileOptions, graphHash, loadWorkspace, previewContext, tzOffsetMinutes, type Workspace } from '../rules/context';
import { diffGraphs } from '../rules/diff';
import { applyStatements } from '../rules/apply';
import { loadEvalData } from '../rules/load';
import { sampleMatches } from '../rules/preview';
import { appliesNow, countRule, ruleScope } from '../rules/rule-preview';
import { requireResumeRights, requireRuleRights } from '../rules/rights';

/** A fresh rule's draft. */
const EMPTY_GRAPH = { schemaVersion: 1, nodes: [], edges: [] };
const DEFAULT_SAMPLE = 20;

interface RuleRow {
  id: number;
  name: string;
  description: string | null;
  status: RuleStatus;
  draft_graph: string;
  published_version: number | null;
  paused_reason: string | null;
  created_at: number;
  updated_at: number;
}

interface VersionRow {
  version: number;
  graph: string;
  logic: string;
  trigger: string;
  rollout_percent: number;
  note: string | null;
  created_by: number | null;
  created_by_name: string | null;
  created_at: number;
  published_at: number | null;
}

/** What the publish audit row stores in `after`, written inside the publish batch. */
interface PublishRecord {
  version: number;
  rolloutPercent: number;
  graphHash: string;
  /** The counts at publish time (equal to what the user confirmed); `tags` since the net-change semantics. */
  preview: { total: number; matched: number; tags?: TagCounts[] };
  /** Ledger rows the publish wrote, by tag and operation. */
  ledger: { tagId: number; op: 'add' | 'remove'; n: number }[] | null;
}

/** What a publish applied: per tag, the contact_tags rows its ledger says it inserted and deleted. */
function appliedOf(rec: PublishRecord): PublishApplied {
  const ledger = rec.ledger ?? [];
  const n = (op: string, tagId: number) => ledger.filter((l) => l.op === op && l.tagId === tagId).reduce((s, l) => s + l.n, 0);
  const tagIds = [...new Set([...(rec.preview.tags ?? []).map((t) => t.tagId), ...ledger.map((l) => l.tagId)])];
  return {
    rolloutPercent: rec.rolloutPercent,
    total: rec.preview.total,
    matched: rec.preview.matched,
    tags: tagIds.map((tagId) => ({ tagId, gain: n('add', tagId), lose: n('remove', tagId) })),
  };
}

const parse = <T>(text: string | null | undefined, fallback: T): T => {
  if (text == null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};

const userRef = (id: number | null, name: string | null): UserRef | null => (id == null ? null : { id, name: name ?? '' });

/** The trigger of a (possibly invalid) graph, for the list: event type, `schedule`, or null. */
function triggerOf(graph: unknown): EventType | 'schedule' | null {
  const nodes = (graph as { nodes?: unknown })?.nodes;
  if (!Array.isArray(nodes)) return null;
  const t = nodes.find((n) => (n as { kind?: unknown })?.kind === 'trigger') as { trigger?: TriggerSpec } | undefined;
  if (!t?.trigger) return null;
  return t.trigger.type === 'schedule' ? 'schedule' : (t.trigger.eventType ?? null);
}

/** 404 unless the rule exists. */
async function getRule(db: D1Database, id: number): Promise<RuleRow> {
  const row = await db.prepare('SELECT * FROM rules WHERE id = ?').bind(id).first<RuleRow>();
  if (!row) throw new ApiError(404, 'not_found', `No rule with id ${id}`);
  return row;
}

function conflict(message: string, details?: FieldProblem[]): ApiError {
  return new ApiError(409, 'conflict', message, details);
}

const LIST_COLUMNS = `r.id, r.name, r.description, r.status, r.draft_graph, r.published_version, r.paused_reason, r.created_at, r.updated_at,
  pv.rollout_percent AS pv_rollout, pv.published_at AS pv_published_at, pv.graph AS pv_graph,
  pv.created_by AS pv_by, u.name AS pv_by_name,
  (SELECT max(v.version) FROM rule_versions v WHERE v.rule_id = r.id) AS latest_version,
  (SELECT a.after FROM audit_log a WHERE a.object_type = 'rule' AND a.object_id = CAST(r.id AS TEXT)
     AND a.action = 'rule.publish' ORDER BY a.id DESC LIMIT 1) AS last_publish`;
const LIST_FROM = `rules r
  LEFT JOIN rule_versions pv ON pv.rule_id = r.id AND pv.version = r.published_version
  LEFT JOIN users u ON u.id = pv.created_by`;

type ListRow = RuleRow & {
  pv_rollout: number | null;
  pv_published_at: number | null;
  pv_graph: string | null;
  pv_by: number | null;
  pv_by_name: string | null;
  latest_version: number | null;
  last_publish: string | null;
};

async function toListItem(row: ListRow): Promise<RuleListItem> {
  const draft = parse<unknown>(row.draft_graph, EMPTY_GRAPH);
  const publish = parse<PublishRecord | null>(row.last_publish, null);
  const draftChanged = row.pv_graph == null ? true : (await graphHash(draft)) !== (await graphHash(parse<unknown>(row.pv_graph, null)));
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status,
    trigger: triggerOf(draft),
    publishedVersion: row.published_version,
    latestVersion: row.latest_version,
    rolloutPercent: row.pv_rollout,
    lastPublishedAt: row.pv_published_at,
    lastPublishedBy: userRef(row.pv_by, row.pv_by_name),
    matchesAtPublish: publish && publish.version === row.published_version ? publish.preview.matched : null,
    draftChanged,
    pausedReason: row.status === 'paused' ? parse<RulePausedReason | null>(row.paused_reason, null) : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function versionRows(db: D1Database, ruleId: number): Promise<{ rows: VersionRow[]; publishes: Map<number, PublishApplied> }> {
  const [versions, audits] = await db.batch([
    db
      .prepare(
        `SELECT v.version, v.graph, v.logic, v.trigger, v.rollout_percent, v.note, v.created_by, u.name AS created_by_name,
                v.created_at, v.published_at
         FROM rule_versions v LEFT JOIN users u ON u.id = v.created_by WHERE v.rule_id = ? ORDER BY v.version DESC`,
      )
      .bind(ruleId),
    db
      .prepare(`SELECT after FROM audit_log WHERE object_type = 'rule' AND object_id = ? AND action = 'rule.publish' ORDER BY id`)
      .bind(String(ruleId)),
  ]);
  const publishes = new Map<number, PublishApplied>();
  for (const a of (audits?.results ?? []) as { after: string | null }[]) {
    const rec = parse<PublishRecord | null>(a.after, null);
    if (rec?.version) publishes.set(rec.version, appliedOf(rec));
  }
  return { rows: (versions?.results ?? []) as VersionRow[], publishes };
}

function toVersionSummary(v: VersionRow, current: number | null, publishes: Map<number, PublishApplied>): RuleVersionSummary {
  return {
    version: v.version,
    trigger: v.trigger as EventType | 'schedule',
    rolloutPercent: v.rollout_percent,
    note: v.note,
    createdAt: v.created_at,
    createdBy: userRef(v.created_by, v.created_by_name),
    publishedAt: v.published_at,
    applied: publishes.get(v.version) ?? null,
    current: v.version === current,
  };
}

/** The compiler's errors for a draft (empty when it compiles). */
function draftErrors(graph: unknown, ws: Workspace): RuleError[] {
  const r = compileRule(graph, compileOptions(ws));
  return r.ok ? [] : r.errors;
}

async function ruleDetail(db: D1Database, id: number, ws?: Workspace): Promise<RuleDetail> {
  const row = await db.prepare(`SELECT ${LIST_COLUMNS} FROM ${LIST_FROM} WHERE r.id = ?`).bind(id).first<ListRow>();
  if (!row) throw new ApiError(404, 'not_found', `No rule with id ${id}`);
  const [item, { rows, publishes }, workspace] = await Promise.all([toListItem(row), versionRows(db, id), ws ?? loadWorkspace(db)]);
  const draftGraph = parse<RuleGraph>(row.draft_graph, EMPTY_GRAPH as RuleGraph);
  return {
    ...item,
    draftGraph,
    draftHash: await graphHash(draftGraph),
    errors: draftErrors(draftGraph, workspace),
    versions: rows.map((v) => toVersionSummary(v, row.published_version, publishes)),
  };
}


/** A status change: allowed only from `from`; the audit row says what happened. */
function transition(to: RuleStatus, from: readonly RuleStatus[], action: 'rule.pause' | 'rule.resume' | 'rule.archive', verb: string) {
  return async (db: D1Database, id: number, actor: Actor): Promise<RuleDetail> => {
    const rule = await getRule(db, id);
    if (!from.includes(rule.status)) {
      throw conflict(`Cannot ${verb} rule ${id}: it is ${rule.status} (only ${from.join(' or ')} rules can be ${verb}d)`);
    }
    const now = Date.now();
    const [update] = await db.batch([
      db.prepare('UPDATE rules SET status = ?, paused_reason = NULL, updated_at = max(?, updated_at + 1) WHERE id = ? AND status = ?').bind(to, now, id, rule.status),
      // the 409 below must not leave a "paused" entry behind
      auditStatementIfChanged(db, {
        actor,
        action,
        objectType: 'rule',
        objectId: id,
        summary: `${verb} rule "${rule.name}" (${rule.status} → ${to})`,
        params: { name: rule.name, fromStatus: rule.status, toStatus: to },
        before: { status: rule.status },
        after: { status: to },
        at: now,
      }),
    ]);
    if (!update?.meta.changes) throw conflict(`Rule ${id} changed while being ${verb}d: try again`);
    return ruleDetail(db, id);
  };
}

const pause = transition('paused', ['published'], 'rule.pause', 'pause');
const resume = transition('published', ['paused'], 'rule.resume', 'resume');
const archive = transition('archived', ['draft', 'published', 'paused'], 'rule.archive', 'archive');

/** The rule with event-scoped tests assumed to hold (as the preview does), for explanations. */
function assumeEvent(rule: CompiledRule): { rule: CompiledRule; assumed: string[] } {
  const assumed = new Set<string>();
  const tests = rule.tests.map((t) => {
    if (!t.eventScoped || t.kind !== 'bool') return t;
    assumed.add(t.nodeId);
    return { ...t, logic: true as JsonLogic, conditions: [] };
  });
  if (assumed.size === 0) return { rule, assumed: [] };
  const byId = new Map(tests.map((t) => [t.id, t]));
  const nodeLogic: Record<string, JsonLogic> = {};
  for (const [id, f] of Object.entries(rule.reach)) nodeLogic[id] = formulaToLogic(f, byId);
  const logic: JsonLogic = { merge: rule.actions.map((a) => ({ if: [nodeLogic[a.nodeId] ?? false, [a.nodeId], []] })) };
  return { rule: { ...rule, tests, nodeLogic, logic }, assumed: [...assumed] };
}

/**
 * Where the confirmed per-tag counts differ from what publishing would write now. Every tag of
 * the preview's `tags` must be confirmed (a tag the rule only displaces is there once someone
 * would lose it). A rule that does not apply now (it reads its triggering event) writes nothing
 * at publish, so only the tags named are checked.
 */
function confirmationProblems(now: TagCounts[], expected: PublishBody['expected'], percent: number, applies: boolean): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const t of applies ? now : []) {
    const exp = expected[String(t.tagId)];
    if (!exp) {
      problems.push({ path: `expected.${t.tagId}`, message: `missing: publishing would now add it to ${t.gain} and remove it from ${t.lose}` });
      continue;
    }
    for (const key of ['gain', 'lose'] as const) {
      if (exp[key] !== t[key]) {
        problems.push({ path: `expected.${t.tagId}.${key}`, message: `is ${exp[key]}, but publishing at ${percent}% would now ${key === 'gain' ? 'add it to' : 'remove it from'} ${t[key]}` });
      }
    }
  }
  for (const tagId of Object.keys(expected)) {
    if (!now.some((t) => String(t.tagId) === tagId)) problems.push({ path: `expected.${tagId}`, message: 'is not a tag this publish changes' });
  }
  return problems;
}

/** A contact the explanation may show: it exists and is in the user's scope. */
async function requireVisibleContact(db: D1Database, user: SessionUser, id: number) {
  if (!(await findVisibleContact(db, user, id))) throw new ApiError(400, 'unknown_reference', `contactId: no contact with id ${id}`, [{ path: 'contactId', message: 'no such contact' }]);
}

export const rules = new Hono<AppEnv>()
  .use('/:id', departmentOwned('rules', 'rule'))
  .use('/:id/*', departmentOwned('rules', 'rule'))
  .get('/', validate('query', ruleListQuery), async (c) => {
    const q = c.req.valid('query');
    const db = c.env.DB;
    const where: string[] = [];
    const params: unknown[] = [];
    const user = c.get('user');
    const scope = userScope(user, 'r.department_id');
    if (scope) {
      where.push(scope.sql);
      params.push(...scope.params);
    }
    if (q.status) {
      where.push('r.status = ?');
      params.push(q.status);
    } else if (q.includeArchived !== '1') where.push("r.status <> 'archived'");
    if (q.q) {
      where.push('instr(lower(r.name), lower(?)) > 0'); // not LIKE: D1 refuses patterns over 50 bytes (worker/src/db/search.ts)
      params.push(q.q);
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [total, rows] = await db.batch([
      db.prepare(`SELECT COUNT(*) AS n FROM rules r ${w}`).bind(...params),
      db
        .prepare(`SELECT ${LIST_COLUMNS} FROM ${LIST_FROM} ${w} ORDER BY r.updated_at DESC, r.id DESC LIMIT ? OFFSET ?`)
        .bind(...params, q.pageSize, (q.page - 1) * q.pageSize),
    ]);
    const body: RuleListResponse = {
      items: await Promise.all(((rows?.results ?? []) as ListRow[]).map(toListItem)),
      total: (total?.results[0] as { n: number } | undefined)?.n ?? 0,
      page: q.page,
      pageSize: q.pageSize,
    };
    return c.json(body);
  })

  .post('/', requireRole('dept_admin'), validate('json', createRuleBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const now = Date.now();
    const graph = b.graph ?? EMPTY_GRAPH;
    await requireRuleRights(db, c.get('user'), graph);
    const owner = await ownerDepartment(db, c.get('user'), b.departmentId);
    const [insert] = await db.batch([
      db
        .prepare("INSERT INTO rules (name, description, department_id, status, draft_graph, created_by, created_at, updated_at) VALUES (?, ?, ?, 'draft', ?, ?, ?, ?)")
        .bind(b.name, b.description ?? null, owner.id, JSON.stringify(graph), c.get('user').id, now, now),
      auditStatementForNewRow(db, {
        actor: actorOf(c),
        action: 'rule.create',
        objectType: 'rule',
        summary: `created rule "${b.name}"`,
        params: { name: b.name },
        after: { name: b.name, description: b.description ?? null, draftGraph: graph },
        at: now,
      }),
    ]);
    const id = insert?.meta.last_row_id as number;
    return c.json(await ruleDetail(db, id), 201);
  })

  .post('/preview', validate('json', previewBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const user = c.get('user');
    // the contacts the rule acts on: a saved rule's department, else the user's own scope
    let ownerPath: string | null = user.role === 'super_admin' ? null : (user.departmentPath ?? '\u0000');
    if (b.ruleId !== undefined) {
      const rule = await db
        .prepare('SELECT d.path FROM rules r LEFT JOIN departments d ON d.id = r.department_id WHERE r.id = ?')
        .bind(b.ruleId)
        .first<{ path: string | null }>();
      if (!rule || !inScope(user, rule.path)) throw new ApiError(400, 'unknown_reference', `ruleId: no rule with id ${b.ruleId}`, [{ path: 'ruleId', message: 'no such rule' }]);
      ownerPath = rule.path;
    }
    const percent = b.rolloutPercent ?? 100;
    const hash = await graphHash(b.graph);
    const ws = await loadWorkspace(db);
    const ctx = previewContext(c.env, Date.now());
    const scope = ruleScope(b.ruleId, percent, ownerPath);
    const counted = await countRule(db, ws, b.graph, ctx, scope);
    if (!counted.ok) return c.json({ ok: false, graphHash: hash, errors: counted.errors } satisfies RulePreviewResponse);
    const n = b.sampleSize ?? DEFAULT_SAMPLE;
    const sample = n > 0 ? await sampleMatches(db, counted.value.rule, ctx, n, { scope }) : { ok: true as const, value: [] };
    if (!sample.ok) return c.json({ ok: false, graphHash: hash, errors: sample.errors } satisfies RulePreviewResponse);
    const body: RulePreviewResponse = {
      ok: true,
      graphHash: hash,
      rolloutPercent: percent,
      counts: counted.value.counts,
      sample: await contactSummaries(drizzleDb(c.env), sample.value.map((s) => s.id)),
      logic: counted.value.rule.logic,
      tookMs: counted.value.tookMs,
      appliesNow: appliesNow(counted.value.rule),
    };
    return c.json(body);
  })

  .post('/explain', validate('json', explainBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const ws = await loadWorkspace(db);
    const compiled = compileRule(b.graph, compileOptions(ws));
    if (!compiled.ok) return c.json({ ok: false, errors: compiled.errors } satisfies RuleExplainResponse);
    const { rule, assumed } = assumeEvent(compiled.value);
    await requireVisibleContact(db, c.get('user'), b.contactId);
    const data = await loadEvalData(db, b.contactId, { now: Date.now(), tzOffsetMinutes: tzOffsetMinutes(c.env), ...dataNeeds([rule]) });
    if (!data) {
      throw new ApiError(400, 'unknown_reference', `contactId: no contact with id ${b.contactId}`, [{ path: 'contactId', message: 'no such contact' }]);
    }
    const [contact] = await contactSummaries(drizzleDb(c.env), [b.contactId]);
    const body: RuleExplainResponse = {
      ok: true,
      contact: contact as NonNullable<typeof contact>,
      explanation: explainRule(rule, data, ws.customFields),
      assumedNodeIds: assumed,
    };
    return c.json(body);
  })

  .get('/:id', validate('param', idPath), async (c) => {
    return c.json(await ruleDetail(c.env.DB, c.req.valid('param').id));
  })

  .put('/:id/draft', validate('param', idPath), validate('json', saveDraftBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const rule = await getRule(db, id);
    await requireRuleRights(db, c.get('user'), b.graph);
    if (rule.status === 'archived') throw conflict(`Rule ${id} is archived: duplicate it to edit a copy`);
    const now = Date.now();
    const name = b.name ?? rule.name;
    const description = b.description === undefined ? rule.description : b.description;
    const before = parse<unknown>(rule.draft_graph, null);
    await db.batch([
      db
        .prepare('UPDATE rules SET draft_graph = ?, name = ?, description = ?, updated_at = max(?, updated_at + 1) WHERE id = ?')
        .bind(JSON.stringify(b.graph), name, description, now, id),
      auditStatement(db, {
        actor: actorOf(c),
        action: 'rule.save_draft',
        objectType: 'rule',
        objectId: id,
        summary: `saved the draft of rule "${name}"`,
        params: { name },
        before: { name: rule.name, description: rule.description, draftGraph: before },
        after: { name, description, draftGraph: b.graph },
        at: now,
      }),
    ]);
    return c.json(await ruleDetail(db, id));
  })

  .post('/:id/duplicate', validate('param', idPath), validate('json', duplicateRuleBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const rule = await getRule(db, id);
    await requireRuleRights(db, c.get('user'), parse<unknown>(rule.draft_graph, null));
    const name = b.name ?? `${rule.name}（副本）`.slice(0, 100);
    const now = Date.now();
    const [insert] = await db.batch([
      db
        .prepare("INSERT INTO rules (name, description, department_id, status, draft_graph, created_by, created_at, updated_at) SELECT ?, ?, department_id, 'draft', ?, ?, ?, ? FROM rules WHERE id = ?")
        .bind(name, rule.description, rule.draft_graph, c.get('user').id, now, now, id),
      auditStatementForNewRow(db, {
        actor: actorOf(c),
        action: 'rule.duplicate',
        objectType: 'rule',
        summary: `duplicated rule "${rule.name}" (${id}) as "${name}"`,
        params: { from: rule.name, fromId: id, name },
        before: { from: id },
        after: { name, description: rule.description, draftGraph: parse<unknown>(rule.draft_graph, null) },
        at: now,
      }),
    ]);
    return c.json(await ruleDetail(db, insert?.meta.last_row_id as number), 201);
  })

  .post('/:id/pause', validate('param', idPath), validate('json', emptyBody), async (c) => c.json(await pause(c.env.DB, c.req.valid('param').id, actorOf(c))))
  .post('/:id/resume', validate('param', idPath), validate('json', emptyBody), async (c) => {
    await requireResumeRights(c.env.DB, c.get('user'), c.req.valid('param').id);
    return c.json(await resume(c.env.DB, c.req.valid('param').id, actorOf(c)));
  })
  .post('/:id/archive', validate('param', idPath), validate('json', emptyBody), async (c) => c.json(await archive(c.env.DB, c.req.valid('param').id, actorOf(c))))

  .get('/:id/versions', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const rule = await getRule(c.env.DB, id);
    const { rows, publishes } = await versionRows(c.env.DB, id);
    return c.json(rows.map((v) => toVersionSummary(v, rule.published_version, publishes)));
  })

  .get('/:id/versions/:version', validate('param', versionPath), async (c) => {
    const { id, version } = c.req.valid('param');
    const rule = await getRule(c.env.DB, id);
    const { rows, publishes } = await versionRows(c.env.DB, id);
    const v = rows.find((r) => r.version === version);
    if (!v) throw new ApiError(404, 'not_found', `Rule ${id} has no version ${version}`);
    const graph = parse<RuleGraph>(v.graph, EMPTY_GRAPH as RuleGraph);
    const compiled = compileRule(graph);
    const body: RuleVersionDetail = {
      ...toVersionSummary(v, rule.published_version, publishes),
      ruleId: id,
      graph,
      logic: parse<JsonLogic>(v.logic, null),
      triggerSpec: compiled.ok ? compiled.value.trigger : { type: 'schedule', cron: '' },
    };
    return c.json(body);
  })

  .post('/:id/versions/:version/restore', validate('param', versionPath), validate('json', emptyBody), async (c) => {
    const { id, version } = c.req.valid('param');
    const db = c.env.DB;
    const rule = await getRule(db, id);
    const v = await db.prepare('SELECT graph FROM rule_versions WHERE rule_id = ? AND version = ?').bind(id, version).first<{ graph: string }>();
    if (!v) throw new ApiError(404, 'not_found', `Rule ${id} has no version ${version}`);
    await requireRuleRights(db, c.get('user'), parse<unknown>(v.graph, null));
    if (rule.status === 'archived') throw conflict(`Rule ${id} is archived: duplicate it to edit a copy`);
    const now = Date.now();
    await db.batch([
      db.prepare('UPDATE rules SET draft_graph = ?, updated_at = max(?, updated_at + 1) WHERE id = ?').bind(v.graph, now, id),
      auditStatement(db, {
        actor: actorOf(c),
        action: 'rule.restore_version',
        objectType: 'rule',
        objectId: id,
        summary: `restored version ${version} of rule "${rule.name}" as the draft`,
        params: { name: rule.name, version },
        before: { draftGraph: parse<unknown>(rule.draft_graph, null) },
        after: { version, draftGraph: parse<unknown>(v.graph, null) },
        at: now,
      }),
    ]);
    return c.json(await ruleDetail(db, id));
  })

  .get('/:id/compare', validate('param', idPath), validate('query', compareQuery), async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const db = c.env.DB;
    const rule = await getRule(db, id);
    const side = async (v: number | 'draft') => {
      if (v === 'draft') return { version: v, graph: parse<RuleGraph>(rule.draft_graph, EMPTY_GRAPH as RuleGraph) };
      const row = await db.prepare('SELECT graph FROM rule_versions WHERE rule_id = ? AND version = ?').bind(id, v).first<{ graph: string }>();
      if (!row) throw new ApiError(404, 'not_found', `Rule ${id} has no version ${v}`);
      return { version: v, graph: parse<RuleGraph>(row.graph, EMPTY_GRAPH as RuleGraph) };
    };
    const [a, b] = await Promise.all([side(q.a), side(q.b)]);
    const body: CompareResponse = { a, b, diff: diffGraphs(a.graph, b.graph) };
    return c.json(body);
  })

  .post('/:id/publish', validate('param', idPath), validate('json', publishBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const rule = await getRule(db, id);
    if (rule.status === 'archived') throw conflict(`Rule ${id} is archived and cannot be published`);
    const draft = parse<unknown>(rule.draft_graph, null);
    await requireRuleRights(db, c.get('user'), draft);
    if ((await graphHash(draft)) !== b.graphHash) {
      throw conflict('The draft changed since the preview you confirmed: preview it again and confirm what it will change', [
        { path: 'graphHash', message: 'does not match the saved draft' },
      ]);
    }
    const ws = await loadWorkspace(db);
    const now = Date.now();
    const ctx = previewContext(c.env, now);
    const scope = ruleScope(id, b.rolloutPercent, c.get('ownerPath'));
    const counted = await countRule(db, ws, draft, ctx, scope);
    if (!counted.ok) {
      throw new ApiError(
        422,
        'invalid_rule',
        `The draft cannot be published: ${counted.errors.map((e) => e.message).join('; ')}`,
        counted.errors.map((e) => ({ path: e.nodeId ?? 'graph', message: e.message })),
      );
    }
    const { rule: compiled, counts } = counted.value;
    const applyNow = appliesNow(compiled);

    // The user must see what they publish: the confirmed per-tag net change must be what publishing writes now.
    const problems = confirmationProblems(counts.tags, b.expected, b.rolloutPercent, applyNow);
    if (problems.length) {
      throw conflict(
        `What publishing would change is not what was confirmed (${problems.map((p) => `${p.path} ${p.message}`).join('; ')}): preview again`,
        problems,
      );
    }

    const latest = await db.prepare('SELECT max(version) AS v FROM rule_versions WHERE rule_id = ?').bind(id).first<{ v: number | null }>();
    const version = (latest?.v ?? 0) + 1;
    const batchId = `publish:${id}:${version}`;
    const apply = applyNow
      ? applyStatements(db, compiled, counted.value.net, ctx, scope, { source: 'rule', ruleId: id, ruleVersion: version, batchId, at: now })
      : { ok: true as const, value: [] };
    if (!apply.ok) {
      throw new ApiError(422, 'invalid_rule', `The draft cannot be applied: ${apply.errors.map((e) => e.message).join('; ')}`,
        apply.errors.map((e) => ({ path: e.nodeId ?? 'graph', message: e.message })));
    }
    const trigger = compiled.trigger.type === 'schedule' ? 'schedule' : compiled.trigger.eventType;
    try {
      await db.batch([
        // The graph is NULL (a constraint error that rolls the whole batch back) if the draft
        // changed since it was read above: what is published is what was counted.
        db
          .prepare(
            `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, rollout_percent, note, created_by, created_at, published_at)
             VALUES (?, ?, CASE WHEN EXISTS (SELECT 1 FROM rules WHERE id = ? AND updated_at = ? AND status <> 'archived') THEN ? END,
                     ?, ?, ?, ?, ?, ?, ?)`,
          )
          .bind(id, version, id, rule.updated_at, rule.draft_graph, JSON.stringify(compiled.logic), trigger, b.rolloutPercent, b.note ?? null, c.get('user').id, now, now),
        db
          .prepare("UPDATE rules SET status = 'published', published_version = ?, updated_at = max(?, updated_at + 1) WHERE id = ?")
          .bind(version, now, id),
        ...apply.value,
        // The audit row records what the ledger says was written, computed inside the batch.
        db
          .prepare(
            `INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, before, after)
             SELECT ?, ?, ?, 'rule.publish', 'rule', ?, ?, ?, ?, json_object('version', ?, 'rolloutPercent', ?, 'graphHash', ?, 'preview', json(?), 'ledger',
               (SELECT json_group_array(json_object('tagId', tag_id, 'op', op, 'n', n))
                FROM (SELECT tag_id, op, COUNT(*) AS n FROM tag_ledger WHERE rule_id = ? AND rule_version = ? AND batch_id = ? GROUP BY tag_id, op)))`,
          )
          .bind(
            now,
            actorOf(c).userId,
            actorOf(c).ip,
            String(id),
            `published version ${version} of rule "${rule.name}" at ${b.rolloutPercent}%`,
            auditParams('rule.publish', { name: rule.name, version, share: b.rolloutPercent }),
            JSON.stringify({ status: rule.status, publishedVersion: rule.published_version }),
            version,
            b.rolloutPercent,
            b.graphHash,
            JSON.stringify({ total: counts.total, matched: counts.matched, tags: counts.tags }),
            id,
            version,
            batchId,
          ),
      ]);
    } catch (e) {
      const msg = String((e as Error)?.message ?? e);
      if (msg.includes('NOT NULL constraint failed: rule_versions.graph') || msg.includes('UNIQUE constraint failed: rule_versions')) {
        throw conflict(`Rule ${id} changed while it was being published: nothing was written; preview it again`);
      }
      throw e;
    }
    const record = await db
      .prepare(`SELECT after FROM audit_log WHERE object_type = 'rule' AND object_id = ? AND action = 'rule.publish' ORDER BY id DESC LIMIT 1`)
      .bind(String(id))
      .first<{ after: string }>();
    const applied = appliedOf(parse<PublishRecord>(record?.after, { version, rolloutPercent: b.rolloutPercent, graphHash: b.graphHash, preview: { total: counts.total, matched: counts.matched, tags: counts.tags }, ledger: [] }));
    const body: PublishResponse = { rule: await ruleDetail(db, id, ws), version, applied };
    return c.json(body);
  });
