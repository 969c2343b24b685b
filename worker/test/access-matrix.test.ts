/**
 * Role × endpoint × own/other department, from one table. Every route of the app must appear in
 * ROUTES (a new route fails the first test until its policy is written down here), and every
 * (role, department) cell is called for real: allowed calls must succeed (2xx), forbidden ones
 * get 403, or 404 where the object's existence must not leak (contacts, rules and segments of
 * another department).
 *
 * The world: seedSmallWorld's departments 1 总部 › 2 华东大区 › 3 上海一组, and 4 华南大区.
 * "Own" objects belong to 华东 (2 or 3), "other" ones to 华南 (4). The actors are a super admin
 * (no department), a department admin and a staff member of 华东.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { anonApi, apiAs, newDeadLetter, ROOT, seedDeadLetter, seedSmallWorld, type TestUser } from './fixtures';
import { hashPassword } from '@shared/auth/password';
import { expectedOf, type RulePreviewOk } from '@shared/api/rules';
import { msToLocalTime } from '@shared/api/publishing';
import { graphHash, tzOffsetMinutes } from '../src/rules/context';

const db = env.DB;
const ADMIN: TestUser = { id: 9101, role: 'dept_admin', departmentId: 2 };
const STAFF: TestUser = { id: 9102, role: 'staff', departmentId: 2 };
const PASSWORD = 'matrix-password-1';

type Side = 'own' | 'other';
type Actor = 'super_admin' | 'dept_admin' | 'staff';
const ACTORS: Record<Actor, TestUser> = { super_admin: ROOT, dept_admin: ADMIN, staff: STAFF };
const DEPT: Record<Side, number> = { own: 2, other: 4 };

/**
 * Who may call a route: the least role, and how the other department's objects answer:
 * 'hidden' → 404 (they do not exist for the caller), 'visible' → 403 (they exist, may not be
 * touched), 'none' → the route has no department side. `otherStatus` overrides 404 where a
 * body names the object (400 unknown_reference).
 */
interface Policy {
  min: Actor;
  scope: 'hidden' | 'visible' | 'none';
  otherStatus?: number;
}
interface Route {
  policy: Policy;
  /** Makes the call as `user` for `side`, setting up fresh objects first (as the super admin). */
  call: (user: TestUser, side: Side) => Promise<{ status: number }>;
}

let seq = 0;
const uniq = (p: string) => `${p}${++seq}`;
const body = (method: string, b: unknown): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(b),
});
const get = (user: TestUser, path: string) => apiAs(user, path);
const send = (user: TestUser, method: string, path: string, b: unknown = {}) => apiAs(user, path, body(method, b));

// ---- fixtures made fresh per call, directly in D1 ----

const CONTACT: Record<Side, number> = { own: 1, other: 3 };
/** Tag groups owned by each side's department, applied by staff and edited by department admins. */
const GROUP: Record<Side, number> = { own: 10, other: 11 };
const COMPANY_TAG = 3; // 兴趣偏好 › 美妆: a company-wide group staff may apply

function graph(tagId = COMPANY_TAG) {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 1 } },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    ],
  };
}

async function newRule(side: Side, status: 'draft' | 'published' | 'paused' = 'draft', tagId = COMPANY_TAG): Promise<number> {
  const g = JSON.stringify(graph(tagId));
  const r = await db
    .prepare(
      `INSERT INTO rules (name, department_id, status, draft_graph, published_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, 1) RETURNING id`,
    )
    .bind(uniq('规则'), DEPT[side], status, g, status === 'draft' ? null : 1)
    .first<{ id: number }>();
  await db
    .prepare(
      `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, created_at, published_at) VALUES (?, 1, ?, 'false', 'schedule', 1, 1)`,
    )
    .bind(r!.id, g)
    .run();
  return r!.id;
}

/** `logic`: the stored audience ('null': a draft that does not compile). */
async function newSegment(side: Side, logic = 'null'): Promise<number> {
  const r = await db
    .prepare(
      `INSERT INTO segments (name, department_id, graph, logic, created_at, updated_at) VALUES (?, ?, '{"schemaVersion":1,"nodes":[],"edges":[]}', ?, 1, 1) RETURNING id`,
    )
    .bind(uniq('分群'), DEPT[side], logic)
    .first<{ id: number }>();
  return r!.id;
}

/** A stored audience that compiles: holders of tag 1. */
const LIVE_LOGIC = '{"sf_has_tag":[1]}';

/** An alert rule watching `segmentId` of the side's department (muted when asked). */
async function newAlertRule(side: Side, segmentId: number, muted = false): Promise<number> {
  return (await db
    .prepare(
      `INSERT INTO alert_rules (name, kind, segment_id, threshold, department_id, muted_at, checked_at, created_at, updated_at)
       VALUES (?, 'segment_below', ?, 10, ?, ?, 1, 1, 1) RETURNING id`,
    )
    .bind(uniq('告警'), segmentId, DEPT[side], muted ? 1 : null)
    .first<number>('id'))!;
}

async function newTag(side: Side, holder?: number): Promise<number> {
  const r = await db
    .prepare(`INSERT INTO tags (group_id, name) VALUES (?, ?) RETURNING id`)
    .bind(GROUP[side], uniq('标签'))
    .first<{ id: number }>();
  if (holder)
    await db
      .prepare(`INSERT INTO contact_tags (contact_id, tag_id, source, added_at) VALUES (?, ?, 'manual', 1)`)
      .bind(holder, r!.id)
      .run();
  return r!.id;
}

async function newUser(): Promise<number> {
  const r = await db
    .prepare(`INSERT INTO users (email, name, role, department_id) VALUES (?, '某人', 'staff', 2) RETURNING id`)
    .bind(`${uniq('u')}@segflow.test`)
    .first<{ id: number }>();
  return r!.id;
}

async function newDepartment(): Promise<number> {
  const r = await db
    .prepare(`INSERT INTO departments (name, parent_id, path) VALUES (?, 4, '') RETURNING id`)
    .bind(uniq('部门'))
    .first<{ id: number }>();
  await db.prepare(`UPDATE departments SET path = '/1/4/' || id || '/' WHERE id = ?`).bind(r!.id).run();
  return r!.id;
}

async function newAuditEntry(): Promise<number> {
  const r = await db
    .prepare(`INSERT INTO audit_log (at, action, object_type, object_id, summary) VALUES (1, 'rule.create', 'rule', '1', 'x') RETURNING id`)
    .first<{ id: number }>();
  return r!.id;
}

async function newSource(): Promise<string> {
  const id = uniq('src-');
  await db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES (?, '来源', 'generic', 's')`).bind(id).run();
  return id;
}

/** A WeCom connection with a 客户联系 secret, connected by the super admin (the secret is sealed on the way in). */
async function newWecomConnection(): Promise<number> {
  const r = await send(ROOT, 'POST', '/api/wecom/connections', { corpId: uniq('wwmatrix'), contactSecret: 'matrix-contact-secret-0000' });
  expect(r.status).toBe(201);
  return (r.body as { id: number }).id;
}

/** A WeCom connection whose last backfill failed (so it can be resumed). */
async function newFailedSync(): Promise<number> {
  const id = await newWecomConnection();
  await db
    .prepare(
      `INSERT INTO wecom_sync_runs (connection_id, status, phase, started_at, updated_at, finished_at) VALUES (?, 'failed', 'contacts', 1, 1, 1)`,
    )
    .bind(id)
    .run();
  return id;
}

/** A manual edit by the super admin adding one fresh tag to contact 1: a ledger batch of one row. */
async function newTagBatch(): Promise<string> {
  const tag = (await db.prepare(`INSERT INTO tags (group_id, name) VALUES (2, ?) RETURNING id`).bind(uniq('回滚')).first<number>('id'))!;
  expect((await send(ROOT, 'POST', '/api/contacts/1/tags', { add: [tag] })).status).toBe(200);
  return (await db.prepare('SELECT batch_id FROM tag_ledger WHERE tag_id = ?').bind(tag).first<string>('batch_id'))!;
}
/** A rollback (of one such edit) by the super admin, to be undone. */
async function newRollback(): Promise<number> {
  const r = await send(ROOT, 'POST', '/api/rollbacks', { kind: 'batch', batchId: await newTagBatch(), confirm: { count: 1 } });
  expect(r.status).toBe(201);
  return (r.body as { rollback: { id: number } }).rollback.id;
}

/** A publish plan (requested by the department admin, its step a day away) of a fresh draft rule of the side. */
async function newPlan(side: Side, state: 'awaiting_approval' | 'scheduled' | 'paused'): Promise<number> {
  const rule = await newRule(side);
  return (await db
    .prepare(
      `INSERT INTO publish_plans (rule_id, state, steps, graph_hash, graph, preview, requested_by, requested_at, updated_at)
       VALUES (?, ?, ?, ?, ?, '{}', ?, 1, 1) RETURNING id`,
    )
    .bind(
      rule,
      state,
      JSON.stringify([{ percent: 100, at: Date.now() + 86_400_000 }]),
      await graphHash(graph()),
      JSON.stringify(graph()),
      ADMIN.id,
    )
    .first<number>('id'))!;
}

/** Preview as the super admin (the counts the publish must confirm). */
async function publishBodyFor(ruleId: number, tagId = COMPANY_TAG) {
  const p = (await send(ROOT, 'POST', '/api/rules/preview', { graph: graph(tagId), ruleId, rolloutPercent: 100, sampleSize: 0 }))
    .body as RulePreviewOk;
  return { rolloutPercent: 100, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true };
}

/** A staged import (as the super admin), `stage` steps taken: rows staged, dry run, applied. */
async function newImport(stage: 'created' | 'staged' | 'checked' | 'applied'): Promise<string> {
  const id = (await send(ROOT, 'POST', '/api/imports', { fileName: 'm.csv', headers: ['外部ID', '姓名'], mapping: ['externalId', 'name'] }))
    .body.id as string;
  if (stage === 'created') return id;
  await send(ROOT, 'POST', `/api/imports/${id}/rows`, { rows: [{ row: 2, cells: [uniq('imp_'), '导入者'] }] });
  if (stage === 'staged') return id;
  await send(ROOT, 'POST', `/api/imports/${id}/dry-run`);
  if (stage === 'checked') return id;
  await send(ROOT, 'POST', `/api/imports/${id}/apply`);
  return id;
}

const any: Policy = { min: 'staff', scope: 'none' };
const superOnly: Policy = { min: 'super_admin', scope: 'none' };
const readHidden: Policy = { min: 'staff', scope: 'hidden' };
const writeHidden: Policy = { min: 'dept_admin', scope: 'hidden' };
const editVisible: Policy = { min: 'dept_admin', scope: 'visible' };
/** Rule editors (department admins and up), with no department side: destinations to pick in an action. */
const editors: Policy = { min: 'dept_admin', scope: 'none' };

/** Every route of the app, keyed `METHOD path` as Hono registers it. */
const ROUTES: Record<string, Route | 'public'> = {
  'GET /api/health': 'public',
  'POST /api/auth/login': 'public',
  'POST /api/webhooks/:sourceId': 'public',
  'GET /api/webhooks/wecom/:sourceId': 'public',
  'POST /api/webhooks/wecom/:sourceId': 'public',

  'GET /api/auth/me': { policy: any, call: (u) => get(u, '/api/auth/me') },
  'POST /api/auth/logout': { policy: any, call: (u) => send(u, 'POST', '/api/auth/logout') },
  'GET /api/auth/sessions': { policy: any, call: (u) => get(u, '/api/auth/sessions') },
  'DELETE /api/auth/sessions/:id': {
    policy: any,
    call: async (u) => {
      const hash = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, '0')).join('');
      await db
        .prepare(`INSERT INTO sessions (token_hash, user_id, created_at, expires_at, csrf_token) VALUES (?, ?, 0, 9e15, 'x')`)
        .bind(hash, u.id)
        .run();
      return send(u, 'DELETE', `/api/auth/sessions/${hash.slice(0, 16)}`);
    },
  },
  'POST /api/auth/password': {
    policy: any,
    call: (u) => send(u, 'POST', '/api/auth/password', { currentPassword: PASSWORD, newPassword: PASSWORD }),
  },

  'GET /api/users': { policy: superOnly, call: (u) => get(u, '/api/users') },
  'POST /api/users': {
    policy: superOnly,
    call: (u) =>
      send(u, 'POST', '/api/users', {
        email: `${uniq('new')}@segflow.test`,
        name: '新人',
        role: 'staff',
        departmentId: 2,
        password: 'long-enough-pw',
      }),
  },
  'PATCH /api/users/:id': { policy: superOnly, call: async (u) => send(u, 'PATCH', `/api/users/${await newUser()}`, { name: '改名' }) },
  'POST /api/users/:id/revoke-sessions': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/users/${await newUser()}/revoke-sessions`),
  },

  'GET /api/rollbacks': { policy: superOnly, call: (u) => get(u, '/api/rollbacks') },
  'POST /api/rollbacks/preview': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', '/api/rollbacks/preview', { kind: 'batch', batchId: await newTagBatch() }),
  },
  'POST /api/rollbacks': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', '/api/rollbacks', { kind: 'batch', batchId: await newTagBatch(), confirm: { count: 1 } }),
  },
  'POST /api/rollbacks/:id/undo': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/rollbacks/${await newRollback()}/undo`, { confirm: { count: 1 } }),
  },
  'GET /api/intake/dead-letters': { policy: superOnly, call: (u) => get(u, '/api/intake/dead-letters') },
  'POST /api/intake/dead-letters/:id/requeue': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/intake/dead-letters/${await newDeadLetter()}/requeue`),
  },

  'GET /api/contacts': { policy: any, call: (u) => get(u, '/api/contacts') },
  'GET /api/contacts/owners': { policy: any, call: (u) => get(u, '/api/contacts/owners?q=z') },
  'GET /api/contacts/:id': { policy: readHidden, call: (u, s) => get(u, `/api/contacts/${CONTACT[s]}`) },
  'GET /api/contacts/:id/detail': { policy: readHidden, call: (u, s) => get(u, `/api/contacts/${CONTACT[s]}/detail`) },
  'GET /api/contacts/:id/tag-timeline': { policy: readHidden, call: (u, s) => get(u, `/api/contacts/${CONTACT[s]}/tag-timeline`) },
  'GET /api/contacts/:id/events': { policy: readHidden, call: (u, s) => get(u, `/api/contacts/${CONTACT[s]}/events`) },
  'GET /api/contacts/:id/events/archived': {
    policy: readHidden,
    call: (u, s) => get(u, `/api/contacts/${CONTACT[s]}/events/archived`),
  },
  'POST /api/contacts/:id/tags': {
    policy: readHidden,
    call: async (u, s) => {
      await db.prepare('DELETE FROM contact_tags WHERE contact_id = ? AND tag_id = ?').bind(CONTACT[s], COMPANY_TAG).run();
      return send(u, 'POST', `/api/contacts/${CONTACT[s]}/tags`, { add: [COMPANY_TAG] });
    },
  },

  'GET /api/departments': { policy: any, call: (u) => get(u, '/api/departments') },
  'POST /api/departments': { policy: superOnly, call: (u) => send(u, 'POST', '/api/departments', { name: uniq('部门'), parentId: 4 }) },
  'PATCH /api/departments/:id': {
    policy: superOnly,
    call: async (u) => send(u, 'PATCH', `/api/departments/${await newDepartment()}`, { name: uniq('改名') }),
  },
  'GET /api/audit': { policy: superOnly, call: (u) => get(u, '/api/audit') },
  'GET /api/audit/:id': { policy: superOnly, call: async (u) => get(u, `/api/audit/${await newAuditEntry()}`) },
  'GET /api/security-log': { policy: superOnly, call: (u) => get(u, '/api/security-log') },
  'GET /api/event-sources': { policy: superOnly, call: (u) => get(u, '/api/event-sources') },
  'GET /api/event-sources/:id': { policy: superOnly, call: async (u) => get(u, `/api/event-sources/${await newSource()}`) },
  'POST /api/event-sources': {
    policy: superOnly,
    call: (u) => send(u, 'POST', '/api/event-sources', { kind: 'generic', id: uniq('src-'), name: '来源' }),
  },
  'POST /api/event-sources/:id/rotate': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/event-sources/${await newSource()}/rotate`),
  },
  'POST /api/event-sources/:id/revoke': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/event-sources/${await newSource()}/revoke`),
  },
  'GET /api/destinations': { policy: editors, call: (u) => get(u, '/api/destinations') },
  'POST /api/destinations': {
    policy: superOnly,
    call: (u) => send(u, 'POST', '/api/destinations', { name: uniq('目的地'), kind: 'webhook', url: 'http://receiver.test/ok/matrix' }),
  },
  'POST /api/destinations/:id/rotate': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/destinations/${(await seedDeadLetter()).destinationId}/rotate`),
  },
  'POST /api/destinations/:id/revoke': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/destinations/${(await seedDeadLetter()).destinationId}/revoke`),
  },
  'POST /api/destinations/:id/test': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/destinations/${(await seedDeadLetter()).destinationId}/test`),
  },
  'POST /api/destinations/:id/retry-dead': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/destinations/${(await seedDeadLetter()).destinationId}/retry-dead`),
  },
  'GET /api/destinations/dead-letters': { policy: superOnly, call: (u) => get(u, '/api/destinations/dead-letters') },
  'POST /api/destinations/dead-letters/:deliveryId/retry': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/destinations/dead-letters/${(await seedDeadLetter()).deliveryId}/retry`),
  },
  'GET /api/wecom/connections': { policy: superOnly, call: (u) => get(u, '/api/wecom/connections') },
  'GET /api/wecom/connections/:id': {
    policy: superOnly,
    call: async (u) => get(u, `/api/wecom/connections/${await newWecomConnection()}`),
  },
  'POST /api/wecom/connections': {
    policy: superOnly,
    call: (u) => send(u, 'POST', '/api/wecom/connections', { corpId: uniq('wwmatrix'), contactSecret: 'matrix-contact-secret-0001' }),
  },
  'PATCH /api/wecom/connections/:id': {
    policy: superOnly,
    call: async (u) =>
      send(u, 'PATCH', `/api/wecom/connections/${await newWecomConnection()}`, { contactSecret: 'matrix-contact-secret-0002' }),
  },
  'POST /api/wecom/connections/:id/test': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/wecom/connections/${await newWecomConnection()}/test`),
  },
  'GET /api/wecom/connections/:id/sync': {
    policy: superOnly,
    call: async (u) => get(u, `/api/wecom/connections/${await newWecomConnection()}/sync`),
  },
  'POST /api/wecom/connections/:id/sync': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/wecom/connections/${await newWecomConnection()}/sync`),
  },
  'POST /api/wecom/connections/:id/sync/resume': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/wecom/connections/${await newFailedSync()}/sync/resume`),
  },
  'GET /api/wecom/connections/:id/push': {
    policy: superOnly,
    call: async (u) => get(u, `/api/wecom/connections/${await newWecomConnection()}/push`),
  },
  'POST /api/wecom/connections/:id/push': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/wecom/connections/${await newWecomConnection()}/push`),
  },
  'POST /api/wecom/connections/:id/push/retry': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/wecom/connections/${await newWecomConnection()}/push/retry`),
  },
  'PUT /api/wecom/tag-groups/:id': {
    policy: superOnly,
    call: (u) => send(u, 'PUT', '/api/wecom/tag-groups/2', { sync: false, policy: 'wecom' }),
  },
  'GET /api/wecom/connections/:id/overrides': {
    policy: superOnly,
    call: async (u) => get(u, `/api/wecom/connections/${await newWecomConnection()}/overrides`),
  },
  'GET /api/wecom/tags/:id/retire-impact': { policy: editors, call: (u) => get(u, '/api/wecom/tags/1/retire-impact') },
  'DELETE /api/wecom/connections/:id': {
    policy: superOnly,
    call: async (u) => apiAs(u, `/api/wecom/connections/${await newWecomConnection()}`, { method: 'DELETE' }),
  },
  'GET /api/field-catalog': { policy: any, call: (u) => get(u, '/api/field-catalog') },
  'GET /api/field-values': { policy: any, call: (u) => get(u, '/api/field-values?field=region') },
  'POST /api/score-calibration': {
    policy: any,
    call: (u) => send(u, 'POST', '/api/score-calibration', { metrics: [{ field: 'messageCount' }] }),
  },
  'GET /api/tag-groups': { policy: any, call: (u) => get(u, '/api/tag-groups') },

  'GET /api/taxonomy/config': { policy: any, call: (u) => get(u, '/api/taxonomy/config') },
  'POST /api/taxonomy/groups': {
    policy: editVisible,
    call: (u, s) => send(u, 'POST', '/api/taxonomy/groups', { name: uniq('组'), departmentId: DEPT[s] }),
  },
  'PATCH /api/taxonomy/groups/:id': {
    policy: editVisible,
    call: (u, s) => send(u, 'PATCH', `/api/taxonomy/groups/${GROUP[s]}`, { description: uniq('说明') }),
  },
  'POST /api/taxonomy/tags/check': { policy: any, call: (u) => send(u, 'POST', '/api/taxonomy/tags/check', { name: '美妆达人' }) },
  'POST /api/taxonomy/tags': {
    policy: editVisible,
    call: (u, s) => send(u, 'POST', '/api/taxonomy/tags', { groupId: GROUP[s], name: uniq('新'), allowDuplicate: true }),
  },
  'PATCH /api/taxonomy/tags/:id': {
    policy: editVisible,
    call: async (u, s) => send(u, 'PATCH', `/api/taxonomy/tags/${await newTag(s)}`, { description: '改' }),
  },
  'GET /api/taxonomy/tags/:id/usage': { policy: any, call: (u) => get(u, `/api/taxonomy/tags/${COMPANY_TAG}/usage`) },
  'POST /api/taxonomy/tags/:id/retire': {
    policy: editVisible,
    call: async (u, s) => send(u, 'POST', `/api/taxonomy/tags/${await newTag(s, CONTACT[s])}/retire`, { confirm: { count: 1 } }),
  },
  'POST /api/taxonomy/tags/:id/restore': {
    policy: editVisible,
    call: async (u, s) => {
      const id = await newTag(s);
      await db.prepare(`UPDATE tags SET status = 'retired', retired_at = 1 WHERE id = ?`).bind(id).run();
      return send(u, 'POST', `/api/taxonomy/tags/${id}/restore`);
    },
  },
  'POST /api/taxonomy/tags/:id/merge': {
    policy: editVisible,
    call: async (u, s) =>
      send(u, 'POST', `/api/taxonomy/tags/${await newTag(s, CONTACT[s])}/merge`, { intoTagId: await newTag(s), confirm: { count: 1 } }),
  },
  'GET /api/taxonomy/retirement-proposals': { policy: any, call: (u) => get(u, '/api/taxonomy/retirement-proposals') },

  'GET /api/rules': { policy: any, call: (u) => get(u, '/api/rules') },
  'POST /api/rules': {
    policy: editVisible,
    call: (u, s) => send(u, 'POST', '/api/rules', { name: uniq('新规则'), departmentId: DEPT[s] }),
  },
  'POST /api/rules/preview': { policy: any, call: (u) => send(u, 'POST', '/api/rules/preview', { graph: graph(), sampleSize: 1 }) },
  'POST /api/rules/explain': {
    policy: { min: 'staff', scope: 'hidden', otherStatus: 400 },
    call: (u, s) => send(u, 'POST', '/api/rules/explain', { graph: graph(), contactId: CONTACT[s] }),
  },
  'GET /api/rules/:id': { policy: readHidden, call: async (u, s) => get(u, `/api/rules/${await newRule(s)}`) },
  'PUT /api/rules/:id/draft': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'PUT', `/api/rules/${await newRule(s)}/draft`, { graph: graph() }),
  },
  'POST /api/rules/:id/duplicate': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/rules/${await newRule(s)}/duplicate`),
  },
  'POST /api/rules/:id/pause': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/rules/${await newRule(s, 'published')}/pause`),
  },
  'POST /api/rules/:id/resume': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/rules/${await newRule(s, 'paused')}/resume`),
  },
  'POST /api/rules/:id/archive': { policy: writeHidden, call: async (u, s) => send(u, 'POST', `/api/rules/${await newRule(s)}/archive`) },
  'GET /api/rules/:id/versions': { policy: readHidden, call: async (u, s) => get(u, `/api/rules/${await newRule(s)}/versions`) },
  'GET /api/rules/:id/versions/:version': { policy: readHidden, call: async (u, s) => get(u, `/api/rules/${await newRule(s)}/versions/1`) },
  'POST /api/rules/:id/versions/:version/restore': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/rules/${await newRule(s)}/versions/1/restore`),
  },
  'GET /api/rules/:id/runs': { policy: readHidden, call: async (u, s) => get(u, `/api/rules/${await newRule(s)}/runs`) },
  'GET /api/rules/:id/compare': { policy: readHidden, call: async (u, s) => get(u, `/api/rules/${await newRule(s)}/compare?a=1&b=draft`) },
  'POST /api/rules/:id/publish': {
    policy: writeHidden,
    call: async (u, s) => {
      const id = await newRule(s);
      return send(u, 'POST', `/api/rules/${id}/publish`, await publishBodyFor(id));
    },
  },

  'POST /api/imports': {
    policy: superOnly,
    call: (u) => send(u, 'POST', '/api/imports', { fileName: 'a.csv', headers: ['外部ID', '姓名'], mapping: ['externalId', 'name'] }),
  },
  'GET /api/imports/:id': { policy: superOnly, call: async (u) => get(u, `/api/imports/${await newImport('created')}`) },
  'POST /api/imports/:id/rows': {
    policy: superOnly,
    call: async (u) =>
      send(u, 'POST', `/api/imports/${await newImport('created')}/rows`, { rows: [{ row: 2, cells: [uniq('imp_'), '某'] }] }),
  },
  'POST /api/imports/:id/dry-run': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/imports/${await newImport('staged')}/dry-run`),
  },
  'POST /api/imports/:id/apply': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/imports/${await newImport('checked')}/apply`),
  },
  'POST /api/imports/:id/rollback': {
    policy: superOnly,
    call: async (u) => send(u, 'POST', `/api/imports/${await newImport('applied')}/rollback`),
  },
  'POST /api/exports/contacts': { policy: superOnly, call: (u) => send(u, 'POST', '/api/exports/contacts', {}) },

  'GET /api/home': { policy: any, call: (u) => get(u, '/api/home') },
  'GET /api/segments': { policy: any, call: (u) => get(u, '/api/segments') },
  'POST /api/segments/preview': {
    policy: any,
    call: (u) => send(u, 'POST', '/api/segments/preview', { graph: { schemaVersion: 1, nodes: [], edges: [] } }),
  },
  'POST /api/segments': {
    policy: editVisible,
    call: (u, s) =>
      send(u, 'POST', '/api/segments', { name: uniq('新分群'), graph: { schemaVersion: 1, nodes: [], edges: [] }, departmentId: DEPT[s] }),
  },
  'GET /api/segments/:id': { policy: readHidden, call: async (u, s) => get(u, `/api/segments/${await newSegment(s)}`) },
  'PUT /api/segments/:id': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'PUT', `/api/segments/${await newSegment(s)}`, { name: uniq('改名') }),
  },
  'DELETE /api/segments/:id': { policy: writeHidden, call: async (u, s) => send(u, 'DELETE', `/api/segments/${await newSegment(s)}`) },
  'GET /api/segments/:id/history': { policy: readHidden, call: async (u, s) => get(u, `/api/segments/${await newSegment(s)}/history`) },
  'GET /api/segments/:id/overlap': {
    policy: readHidden,
    call: async (u, s) => {
      const id = await newSegment(s, LIVE_LOGIC);
      return get(u, `/api/segments/${id}/overlap?with=${id}`);
    },
  },
  'POST /api/segments/:id/export': {
    policy: readHidden,
    call: async (u, s) => send(u, 'POST', `/api/segments/${await newSegment(s, LIVE_LOGIC)}/export`, { format: 'csv' }),
  },
  'GET /api/alerts': { policy: any, call: (u) => get(u, '/api/alerts?state=all') },
  'GET /api/alerts/rules': { policy: any, call: (u) => get(u, '/api/alerts/rules') },
  'POST /api/alerts/rules': {
    policy: editVisible,
    call: async (u, s) =>
      send(u, 'POST', '/api/alerts/rules', { name: uniq('告警'), kind: 'segment_below', segmentId: await newSegment(s), threshold: 10 }),
  },
  'PATCH /api/alerts/rules/:id': {
    policy: writeHidden,
    call: async (u, s) => {
      const segmentId = await newSegment(s);
      return send(u, 'PATCH', `/api/alerts/rules/${await newAlertRule(s, segmentId)}`, {
        name: uniq('告警'),
        kind: 'segment_below',
        segmentId,
        threshold: 5,
      });
    },
  },
  'POST /api/alerts/rules/:id/mute': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/alerts/rules/${await newAlertRule(s, await newSegment(s))}/mute`, {}),
  },
  'POST /api/alerts/rules/:id/unmute': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/alerts/rules/${await newAlertRule(s, await newSegment(s), true)}/unmute`),
  },
  'POST /api/alerts/:id/ack': {
    policy: writeHidden,
    call: async (u, s) => {
      const rule = await newAlertRule(s, await newSegment(s));
      const alert = await db
        .prepare(
          `INSERT INTO alerts (alert_rule_id, kind, state, measured, raised_at) VALUES (?, 'segment_below', 'open', '{}', 1) RETURNING id`,
        )
        .bind(rule)
        .first<number>('id');
      return send(u, 'POST', `/api/alerts/${alert}/ack`);
    },
  },
  'GET /api/publishing/plans': { policy: any, call: (u) => get(u, '/api/publishing/plans?state=all') },
  'POST /api/publishing/plans': {
    policy: { min: 'dept_admin', scope: 'hidden', otherStatus: 400 },
    call: async (u, s) => {
      const id = await newRule(s);
      const { graphHash: hash, expected } = await publishBodyFor(id);
      const at = msToLocalTime(Date.now() + 86_400_000, tzOffsetMinutes(env));
      return send(u, 'POST', '/api/publishing/plans', {
        ruleId: id,
        graphHash: hash,
        expected,
        confirm: true,
        steps: [{ percent: 100, at }],
      });
    },
  },
  'GET /api/publishing/plans/:id': {
    policy: readHidden,
    call: async (u, s) => get(u, `/api/publishing/plans/${await newPlan(s, 'scheduled')}`),
  },
  'POST /api/publishing/plans/:id/approve': {
    policy: superOnly,
    call: async (u, s) => send(u, 'POST', `/api/publishing/plans/${await newPlan(s, 'awaiting_approval')}/approve`),
  },
  'POST /api/publishing/plans/:id/reject': {
    policy: superOnly,
    call: async (u, s) => send(u, 'POST', `/api/publishing/plans/${await newPlan(s, 'awaiting_approval')}/reject`, { reason: '再想想' }),
  },
  'POST /api/publishing/plans/:id/cancel': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/publishing/plans/${await newPlan(s, 'scheduled')}/cancel`),
  },
  'POST /api/publishing/plans/:id/resume': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/publishing/plans/${await newPlan(s, 'paused')}/resume`),
  },
  'GET /api/publishing/policies': { policy: any, call: (u) => get(u, '/api/publishing/policies') },
  // off: turning it on would gate the department admin's publishes in the other rows
  'PUT /api/publishing/policies/:departmentId': {
    policy: superOnly,
    call: (u) => send(u, 'PUT', '/api/publishing/policies/2', { requireApproval: false }),
  },

  'GET /api/templates': { policy: any, call: (u) => get(u, '/api/templates') },
  // rights as for creating a rule (the rule's department decides); the template's tags exist in a
  // company-wide group staff may apply, so only the rule's own rights are at stake
  'POST /api/templates/:id/instantiate': {
    policy: editVisible,
    call: async (u, s) => {
      await db.batch([
        db.prepare(
          "INSERT OR IGNORE INTO tag_groups (id, name, exclusive, sort_order, apply_role) VALUES (60, '运营标记', 0, 60, 'staff')",
        ),
        db.prepare(
          "INSERT OR IGNORE INTO tags (id, group_id, level, name, status) VALUES (600, 60, 1, '意向代理', 'active'), (601, 60, 1, '待跟进', 'active')",
        ),
      ]);
      return send(u, 'POST', '/api/templates/keyword_tagging/instantiate', { name: uniq('关键词'), departmentId: DEPT[s] });
    },
  },

  // learned rule suggestions: department admins and up; a suggestion is its department's (hidden elsewhere)
  'GET /api/suggestions': { policy: editors, call: (u) => get(u, '/api/suggestions') },
  // the body names no department's object (a tag or segment of another department: 404, in suggestions.test.ts)
  'POST /api/suggestions': {
    policy: editors,
    call: (u) =>
      send(u, 'POST', '/api/suggestions', { outcome: { kind: 'future_event', eventType: 'purchase', days: 30 }, depth: 2, minLeaf: 10 }),
  },
  'GET /api/suggestions/:id': { policy: writeHidden, call: async (u, s) => get(u, `/api/suggestions/${await newSuggestion(s)}`) },
  'POST /api/suggestions/:id/draft': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/suggestions/${await newSuggestion(s)}/draft`, { name: uniq('学习'), tagId: COMPANY_TAG }),
  },
  // a rule's learned suggestions: the rule's department decides (hidden elsewhere, 404)
  'GET /api/suggestions/by-rule/:ruleId': {
    policy: writeHidden,
    call: async (u, s) => get(u, `/api/suggestions/by-rule/${await newRule(s)}`),
  },
  'POST /api/suggestions/:id/refit': {
    policy: writeHidden,
    call: async (u, s) => {
      const ruleId = await newRule(s);
      return send(u, 'POST', `/api/suggestions/${await newSuggestion(s, { ruleIds: [ruleId] })}/refit`, { ruleId });
    },
  },
  'GET /api/suggestions/:id/diff': {
    policy: writeHidden,
    call: async (u, s) => get(u, `/api/suggestions/${await newSuggestion(s, { refitOf: await newRule(s) })}/diff`),
  },
  'POST /api/suggestions/:id/apply': {
    policy: writeHidden,
    call: async (u, s) => send(u, 'POST', `/api/suggestions/${await newSuggestion(s, { refitOf: await newRule(s) })}/apply`, {}),
  },
};

/**
 * A finished suggestion of the side's department, written straight to D1 (its draft adds tag 0 until one is picked),
 * held by `ruleIds`, or a refit of rule `refitOf`.
 */
async function newSuggestion(side: Side, link: { ruleIds?: number[]; refitOf?: number } = {}): Promise<number> {
  const result = {
    graph: graph(0),
    leaves: [],
    learned: null,
    baseline: null,
    trainRows: 0,
    heldOutRows: 0,
    positives: 0,
    features: 0,
    asOf: 1,
    threshold: 0.5,
  };
  return (await db
    .prepare(
      `INSERT INTO rule_suggestions (department_id, status, progress, params, result, rule_ids, created_at, updated_at) VALUES (?, 'done', 100, ?, ?, ?, 1, 1) RETURNING id`,
    )
    .bind(
      DEPT[side],
      JSON.stringify({
        outcome: { kind: 'future_event', eventType: 'purchase', days: 30 },
        depth: 2,
        minLeaf: 10,
        seed: 1,
        // a finished refit of rule `refitOf` (from suggestion 1)
        ...(link.refitOf ? { refit: { from: 1, ruleId: link.refitOf } } : {}),
      }),
      JSON.stringify(result),
      JSON.stringify(link.ruleIds ?? []),
    )
    .first<number>('id'))!;
}

const RANK: Record<Actor, number> = { staff: 1, dept_admin: 2, super_admin: 3 };

/** What a call must answer: 'ok' (2xx) or the refusal status. */
function expected(p: Policy, actor: Actor, side: Side): 'ok' | number {
  if (actor === 'super_admin') return 'ok';
  if (side === 'other' && p.scope === 'hidden') return p.otherStatus ?? 404;
  if (RANK[actor] < RANK[p.min]) return 403;
  if (side === 'other' && p.scope === 'visible') return 403;
  return 'ok';
}

beforeAll(async () => {
  await seedSmallWorld();
  await db.batch([
    db.prepare(
      `INSERT INTO tag_groups (id, name, department_id, apply_role, edit_role) VALUES (10, '华东专用', 2, 'staff', 'dept_admin'), (11, '华南专用', 4, 'staff', 'dept_admin')`,
    ),
  ]);
  const salt = 'bWF0cml4LXNhbHQtMTIzNA==';
  const hash = await hashPassword(PASSWORD, salt);
  for (const u of Object.values(ACTORS)) {
    await apiAs(u, '/api/auth/me'); // creates the user row and session
    await db.prepare('UPDATE users SET password_hash = ?, password_salt = ? WHERE id = ?').bind(hash, salt, u.id).run();
  }
});

describe('the access table covers every route', () => {
  it('lists every route the app registers, and nothing it does not', () => {
    const registered = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    const missing = [...registered].filter((k) => !(k in ROUTES));
    const stale = Object.keys(ROUTES).filter((k) => !registered.has(k));
    expect(missing, 'routes without an access policy in this table').toEqual([]);
    expect(stale, 'table entries for routes that no longer exist').toEqual([]);
  });
});

describe('signed out', () => {
  it('every route but the public ones answers 401', async () => {
    for (const key of Object.keys(ROUTES)) {
      if (ROUTES[key] === 'public') continue;
      const [method, path] = key.split(' ') as [string, string];
      const url = path.replace(/:[a-zA-Z]+/g, '1');
      const r = await anonApi(url, method === 'GET' ? undefined : body(method, {}));
      expect(r.status, key).toBe(401);
    }
  });
});

describe.each(Object.entries(ACTORS) as [Actor, TestUser][])('as %s', (actor, user) => {
  const rows = Object.entries(ROUTES).filter((e): e is [string, Route] => e[1] !== 'public');
  it.each(rows)('%s', async (_key, route) => {
    const sides: Side[] = route.policy.scope === 'none' ? ['own'] : ['own', 'other'];
    for (const side of sides) {
      const want = expected(route.policy, actor, side);
      const r = await route.call(user, side);
      const got = r.status >= 200 && r.status < 300 ? 'ok' : r.status;
      expect(got, `${side} department: ${JSON.stringify((r as { body?: unknown }).body)}`).toBe(want);
    }
  });
});

describe('scoped lists', () => {
  it('a department admin lists only their department’s contacts, rules and segments', async () => {
    const contacts = await get(ADMIN, '/api/contacts?pageSize=100');
    expect(contacts.body.items.map((c: { id: number }) => c.id).sort()).toEqual([1, 2]);
    const ownRule = await newRule('own');
    const otherRule = await newRule('other');
    const rules = (await get(STAFF, '/api/rules?pageSize=100')).body.items.map((r: { id: number }) => r.id);
    expect(rules).toContain(ownRule);
    expect(rules).not.toContain(otherRule);
    const ownSegment = await newSegment('own');
    const otherSegment = await newSegment('other');
    const segments = (await get(ADMIN, '/api/segments?pageSize=100')).body.items.map((s: { id: number }) => s.id);
    expect(segments).toContain(ownSegment);
    expect(segments).not.toContain(otherSegment);
  });

  it('staff may not apply tags of a group restricted to department admins, by the API', async () => {
    const group = (await db
      .prepare(`INSERT INTO tag_groups (name, apply_role) VALUES ('重要客户', 'dept_admin') RETURNING id`)
      .first<number>('id'))!;
    const tag = (await db.prepare(`INSERT INTO tags (group_id, name) VALUES (?, '大客户') RETURNING id`).bind(group).first<number>('id'))!;
    const staff = await send(STAFF, 'POST', '/api/contacts/1/tags', { add: [tag] });
    expect(staff.status).toBe(403);
    expect(await db.prepare('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?').bind(tag).first('n')).toBe(0);
    expect((await send(ADMIN, 'POST', '/api/contacts/1/tags', { add: [tag] })).status).toBe(200);
    const groups = (await get(STAFF, '/api/tag-groups')).body as { id: number; canApply: boolean; canEdit: boolean }[];
    expect(groups.find((g) => g.id === group)).toMatchObject({ canApply: false, canEdit: false });
    expect(groups.find((g) => g.id === GROUP.own)).toMatchObject({ canApply: true, canEdit: false });
  });

  it('a department rule previews and publishes only its department’s contacts', async () => {
    const fresh = (await db.prepare(`INSERT INTO tags (group_id, name) VALUES (2, '新品尝鲜') RETURNING id`).first<number>('id'))!;
    const id = await newRule('own', 'draft', fresh);
    const p = (await send(ADMIN, 'POST', '/api/rules/preview', { graph: graph(fresh), ruleId: id, sampleSize: 10 })).body as RulePreviewOk;
    // contacts 1 (上海一组, spend 1280) and 2 (华东, spend 99) are 华东's contacts with spend ≥ 1 fen
    expect(p.counts.total).toBe(2);
    expect(p.counts.matched).toBe(2);
    const published = await send(ADMIN, 'POST', `/api/rules/${id}/publish`, await publishBodyFor(id, fresh));
    expect(published.status).toBe(200);
    const tagged = await db
      .prepare('SELECT l.contact_id, c.department_id FROM tag_ledger l JOIN contacts c ON c.id = l.contact_id WHERE l.rule_id = ?')
      .bind(id)
      .all<{ contact_id: number; department_id: number }>();
    // exactly what the preview said, and only 华东's contacts (华南's 3 and 4, 总部's 5 untouched)
    const gain = p.counts.tags[0]?.gain;
    expect(gain).toBe(2);
    expect(tagged.results.map((r) => r.contact_id).sort()).toEqual([1, 2]);
    for (const r of tagged.results) expect([2, 3]).toContain(r.department_id);
  });
});
