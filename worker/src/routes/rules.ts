/**
 * Rules: list, create, draft, lifecycle, versions, compare, runs, preview, explain and publish. The
 * contract (status codes, shapes) is `shared/src/api/rules.ts`. Handlers validate, check access
 * and answer; the work lives in `worker/src/rules/` (detail and list, lifecycle, publish, the
 * preview, rights). Every change writes its `audit_log` row in the same D1 batch as the change.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { db as drizzleDb } from '../db/client';
import { batch } from '../db/rows';
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
  ruleRunsQuery,
  saveDraftBody,
  versionPath,
  type RuleExplainResponse,
  type RulePreviewResponse,
  type RuleVersionDetail,
} from '@shared/api/rules';
import { compileRule } from '@shared/rules/compile';
import { explainRule, namedIds } from '@shared/rules/explain';
import { idNames } from '../contacts/id-names';
import { dataNeeds } from '@shared/rules/needs';
import type { JsonLogic, RuleGraph } from '@shared/rules/types';
import { auditStatement, auditStatementForNewRow } from '../audit';
import { actorOf, departmentOwned, inScope, requireRole } from '../auth/access';
import { compileOptions, graphHash, loadWorkspace, previewContext, tzOffsetMinutes } from '../rules/context';
import { compareVersions } from '../rules/diff';
import { loadEvalData } from '../rules/load';
import { requireVisibleSegments } from '../segments/references';
import { sampleMatches } from '../rules/preview';
import { appliesNow, countRule, ruleScope } from '../rules/rule-preview';
import { requireResumeRights, requireRuleRights } from '../rules/rights';
import { createDraftRule } from '../rules/create';
import { archive, pause, resume } from '../rules/lifecycle';
import { publishRule } from '../rules/publish';
import { archivedThroughDay, archivedWindowErrors } from '../archive/horizon';
import { assumeEvent, contactChange, requireVisibleContact } from '../rules/explain-context';
import { ruleRuns } from '../rules/runs';
import { keyCreated, keyStatements } from '../search/keys';
import { EMPTY_GRAPH, listRules, conflict, getRule, parse, ruleDetail, toVersionSummary, versionRows } from '../rules/detail';

const DEFAULT_SAMPLE = 20;

export const rules = new Hono<AppEnv>()
  .use('/:id', departmentOwned('rules', 'rule'))
  .use('/:id/*', departmentOwned('rules', 'rule'))
  .get('/', validate('query', ruleListQuery), async (c) => c.json(await listRules(c.env.DB, c.env, c.get('user'), c.req.valid('query'))))

  .post('/', requireRole('dept_admin'), validate('json', createRuleBody), async (c) => {
    const b = c.req.valid('json');
    const graph = b.graph ?? EMPTY_GRAPH;
    const id = await createDraftRule(c.env.DB, c.get('user'), actorOf(c), {
      name: b.name,
      description: b.description ?? null,
      departmentId: b.departmentId,
      graph,
      audit: () => ({
        action: 'rule.create',
        summary: `created rule "${b.name}"`,
        params: { name: b.name },
        after: { name: b.name, description: b.description ?? null, draftGraph: graph },
      }),
    });
    return c.json(await ruleDetail(c.env.DB, id), 201);
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
      if (!rule || !inScope(user, rule.path))
        throw new ApiError(400, 'unknown_reference', `ruleId: no rule with id ${b.ruleId}`, [{ path: 'ruleId', message: 'no such rule' }]);
      ownerPath = rule.path;
    }
    const percent = b.rolloutPercent ?? 100;
    const hash = await graphHash(b.graph);
    const ws = await loadWorkspace(db);
    requireVisibleSegments(ws, user, b.graph);
    const ctx = previewContext(c.env, Date.now());
    const scope = ruleScope(b.ruleId, percent, ownerPath);
    const counted = await countRule(db, ws, b.graph, ctx, scope);
    if (!counted.ok) return c.json({ ok: false, graphHash: hash, errors: counted.errors } satisfies RulePreviewResponse);
    // counts over days moved to the archive would be silently short: say so instead (publishing refuses it too)
    const archived = archivedWindowErrors(counted.value.rule, await archivedThroughDay(db), ctx.now, ctx.tzOffsetMinutes);
    if (archived.length) return c.json({ ok: false, graphHash: hash, errors: archived } satisfies RulePreviewResponse);
    const n = b.sampleSize ?? DEFAULT_SAMPLE;
    const sample = n > 0 ? await sampleMatches(db, counted.value.rule, ctx, n, { scope }) : { ok: true as const, value: [] };
    if (!sample.ok) return c.json({ ok: false, graphHash: hash, errors: sample.errors } satisfies RulePreviewResponse);
    const body: RulePreviewResponse = {
      ok: true,
      graphHash: hash,
      rolloutPercent: percent,
      counts: counted.value.counts,
      sample: await contactSummaries(
        drizzleDb(c.env),
        sample.value.map((s) => s.id),
      ),
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
    requireVisibleSegments(ws, c.get('user'), b.graph);
    const compiled = compileRule(b.graph, compileOptions(ws));
    if (!compiled.ok) return c.json({ ok: false, errors: compiled.errors } satisfies RuleExplainResponse);
    const { rule, assumed } = assumeEvent(compiled.value);
    await requireVisibleContact(db, c.get('user'), b.contactId);
    const data = await loadEvalData(db, b.contactId, { now: Date.now(), tzOffsetMinutes: tzOffsetMinutes(c.env), ...dataNeeds([rule]) });
    const [contact] = data ? await contactSummaries(drizzleDb(c.env), [b.contactId]) : [];
    if (!data || !contact) {
      throw new ApiError(400, 'unknown_reference', `contactId: no contact with id ${b.contactId}`, [
        { path: 'contactId', message: 'no such contact' },
      ]);
    }
    const explanation = explainRule(
      rule,
      data,
      ws.customFields,
      await idNames(db, c.get('user'), namedIds(rule, data.contact), data.contact),
    );
    const body: RuleExplainResponse = {
      ok: true,
      contact,
      explanation,
      assumedNodeIds: assumed,
      change: contactChange(rule, ws, data.tags ?? [], explanation.fired),
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
      ...keyStatements(db, 'rule', [{ id, name }]),
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
    const [insert] = await batch(db, [
      db
        .prepare(
          "INSERT INTO rules (name, description, department_id, status, draft_graph, created_by, created_at, updated_at) SELECT ?, ?, department_id, 'draft', ?, ?, ?, ? FROM rules WHERE id = ?",
        )
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
    await keyCreated(db, 'rule', [{ id: insert.meta.last_row_id, name }]);
    return c.json(await ruleDetail(db, insert.meta.last_row_id), 201);
  })

  .post('/:id/pause', validate('param', idPath), validate('json', emptyBody), async (c) =>
    c.json(await pause(c.env.DB, c.req.valid('param').id, actorOf(c))),
  )
  .post('/:id/resume', validate('param', idPath), validate('json', emptyBody), async (c) => {
    await requireResumeRights(c.env.DB, c.get('user'), c.req.valid('param').id);
    return c.json(await resume(c.env.DB, c.req.valid('param').id, actorOf(c)));
  })
  .post('/:id/archive', validate('param', idPath), validate('json', emptyBody), async (c) =>
    c.json(await archive(c.env.DB, c.req.valid('param').id, actorOf(c))),
  )

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
    const graph = parse<RuleGraph>(v.graph, EMPTY_GRAPH);
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
    const v = await db
      .prepare('SELECT graph FROM rule_versions WHERE rule_id = ? AND version = ?')
      .bind(id, version)
      .first<{ graph: string }>();
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

  .get('/:id/runs', validate('param', idPath), validate('query', ruleRunsQuery), async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    await getRule(c.env.DB, id); // 404 for a rule that does not exist (one out of scope is refused before)
    return c.json(await ruleRuns(c.env.DB, id, q.page, q.pageSize));
  })

  .get('/:id/compare', validate('param', idPath), validate('query', compareQuery), async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    return c.json(await compareVersions(c.env.DB, await getRule(c.env.DB, id), q.a, q.b));
  })

  .post('/:id/publish', validate('param', idPath), validate('json', publishBody), async (c) => {
    return c.json(
      await publishRule(c.env.DB, c.env, c.get('user'), actorOf(c), c.get('ownerPath'), c.req.valid('param').id, c.req.valid('json')),
    );
  });
