/**
 * Every mutating route writes exactly one audit entry, in the same batch as its change.
 *
 * The routes are read from the app itself (`app.routes`), so a new POST / PUT / PATCH / DELETE
 * route that this table does not list fails the first test: it cannot be forgotten. Left out:
 * - webhooks (`/api/webhooks/...`): system writes — events from senders, not user mutations;
 *   they are recorded as events (and in the source's counters), not in the audit log;
 * - sign-in (`POST /api/auth/login`): it writes `session.login`, but there is no actor before it
 *   and failed attempts are in `login_attempts` instead (covered in auth.test.ts).
 * POST routes that only read (previews, name checks) are listed separately and must write none.
 * Last, every entry all of this wrote must carry the values (params) of its action's sentence in
 * both languages of the audit screen.
 */
import { expectedOf } from '@shared/api/rules';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { api, apiAs, newDeadLetter, seedDeadLetter, seedSmallWorld } from './fixtures';
import { purgeExpired } from '../src/cron/purge';
import { graphHash, tzOffsetMinutes } from '../src/rules/context';
import { msToLocalTime } from '@shared/api/publishing';
import type { RuleGraph } from '@shared/rules/types';
// the audit screen's real sentences (plain objects): every entry must fill each of their placeholders
import zhAudit from '../../web/src/locales/zh-CN/audit';
import enAudit from '../../web/src/locales/en/audit';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
type Res = { status: number; body: any };

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const EXCLUDED = [/^POST \/api\/webhooks\//, /^POST \/api\/auth\/login$/];

/** Routes of the app as "METHOD /path", middleware (method ALL) left out, one per method and path. */
function mutatingRoutes(): string[] {
  const keys = new Set<string>();
  for (const r of app.routes) {
    if (r.method === 'ALL' || !MUTATING.has(r.method)) continue;
    const key = `${r.method} ${r.path}`;
    if (!EXCLUDED.some((re) => re.test(key))) keys.add(key);
  }
  return [...keys].sort();
}

/** Rule: schedule → 广东? yes → add 美妆 (tag 3). */
const ruleGraph = (): RuleGraph => ({
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
    { id: 'gd', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } },
    { id: 'add', kind: 'action', action: { type: 'add_tag', tagId: 3 } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'gd' },
    { id: 'e2', source: 'gd', target: 'add', sourceHandle: 'yes' },
  ],
});

/** Segment: start → 广东? yes → end. */
const segmentGraph = (): RuleGraph => ({
  schemaVersion: 1,
  nodes: [
    { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } },
    { id: 'gd', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } },
    { id: 'end', kind: 'logic', op: 'or' },
  ],
  edges: [
    { id: 'e1', source: 'start', target: 'gd' },
    { id: 'e2', source: 'gd', target: 'end', sourceHandle: 'yes' },
  ],
});

async function ok(res: Res | Promise<Res>): Promise<any> {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body;
}

async function newRule(name: string): Promise<number> {
  return (await ok(api('/api/rules', json({ name, graph: ruleGraph() })))).id;
}

async function publish(id: number): Promise<Res> {
  const p = await ok(api('/api/rules/preview', json({ graph: ruleGraph(), ruleId: id, rolloutPercent: 100, sampleSize: 0 })));
  return api(
    `/api/rules/${id}/publish`,
    json({ rolloutPercent: 100, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true }),
  );
}

async function newTag(name: string, groupId = 2): Promise<number> {
  return (await ok(api('/api/taxonomy/tags', json({ groupId, name })))).id;
}

interface Case<S = any> {
  action: string;
  objectType: string;
  /** Creates what the call needs (it may write audit entries of its own: they are not counted). */
  setup?: () => Promise<S>;
  /** The one call under test. */
  call: (s: S) => Promise<Res>;
  /** The id the entry must name. */
  objectId: (s: S, body: any) => string;
}

let n = 0;
const uniq = (p: string) => `${p}${++n}`;
const newBodyId = (_: unknown, body: any) => String(body.id);
const staff = (id: number) => ({ id, role: 'staff' as const, departmentId: 3 });
const signIn = (id: number) => apiAs(staff(id), '/api/auth/me');

/** A staged import: created, rows staged, dry-run checked or applied (each step audited in setup). */
async function newImport(stage: 'created' | 'staged' | 'checked' | 'applied'): Promise<string> {
  const id = (await ok(api('/api/imports', json({ fileName: 'a.csv', headers: ['外部ID', '姓名'], mapping: ['externalId', 'name'] }))))
    .id as string;
  if (stage === 'created') return id;
  await ok(api(`/api/imports/${id}/rows`, json({ rows: [{ row: 2, cells: [uniq('imp_'), '导入者'] }] })));
  if (stage === 'staged') return id;
  await ok(api(`/api/imports/${id}/dry-run`, json({})));
  if (stage === 'checked') return id;
  await ok(api(`/api/imports/${id}/apply`, json({})));
  return id;
}
const importCase = (
  action: string,
  stage: 'created' | 'staged' | 'checked' | 'applied',
  path: string,
  body: unknown = {},
): Case<string> => ({
  action,
  objectType: 'import',
  setup: () => newImport(stage),
  call: (id) => api(`/api/imports/${id}${path}`, json(body)),
  objectId: (id) => id,
});

/** A manual edit adding a fresh tag to contact 1 (audited in setup): a ledger batch of one row. */
async function newTagBatch(): Promise<string> {
  const tag = await newTag(uniq('回滚'));
  await ok(api('/api/contacts/1/tags', json({ add: [tag] })));
  return (await db.prepare('SELECT batch_id FROM tag_ledger WHERE tag_id = ?').bind(tag).first<string>('batch_id'))!;
}

/** A WeCom connection with a 客户联系 secret (its create entry written in setup). */
async function newWecomConnection(): Promise<number> {
  return (await ok(api('/api/wecom/connections', json({ corpId: uniq('wwcov'), contactSecret: 'coverage-contact-secret-00' })))).id;
}

/** For each mutating route: one valid, successful call, and the audit entry it must write. */
const CASES: Record<string, Case> = {
  'POST /api/rollbacks': {
    action: 'rollback.batch',
    objectType: 'rollback',
    setup: () => newTagBatch(),
    call: (batchId: string) => api('/api/rollbacks', json({ kind: 'batch', batchId, confirm: { count: 1 } })),
    objectId: (_: unknown, body: any) => String(body.rollback.id),
  },
  'POST /api/rollbacks/:id/undo': {
    action: 'rollback.batch',
    objectType: 'rollback',
    setup: async () =>
      (await ok(api('/api/rollbacks', json({ kind: 'batch', batchId: await newTagBatch(), confirm: { count: 1 } })))).rollback.id as number,
    call: (id: number) => api(`/api/rollbacks/${id}/undo`, json({ confirm: { count: 1 } })),
    objectId: (_: unknown, body: any) => String(body.rollback.id),
  },
  'POST /api/imports': {
    action: 'import.create',
    objectType: 'import',
    call: () => api('/api/imports', json({ fileName: 'b.csv', headers: ['外部ID', '姓名'], mapping: ['externalId', 'name'] })),
    objectId: newBodyId,
  },
  'POST /api/imports/:id/rows': importCase('import.rows', 'created', '/rows', { rows: [{ row: 2, cells: ['imp_rows', '某'] }] }),
  'POST /api/imports/:id/dry-run': importCase('import.dry_run', 'staged', '/dry-run'),
  'POST /api/imports/:id/apply': importCase('import.apply', 'checked', '/apply'),
  // an import's rollback is a rollback: its entry names the rollbacks row it wrote
  'POST /api/imports/:id/rollback': {
    ...importCase('rollback.import', 'applied', '/rollback'),
    objectType: 'rollback',
    objectId: (_: unknown, body: any) => String(body.rollbackId),
  },
  'POST /api/exports/contacts': {
    action: 'contact.export',
    objectType: 'contact',
    call: () => api('/api/exports/contacts', json({})),
    objectId: () => '*',
  },
  'POST /api/auth/logout': {
    action: 'session.logout',
    objectType: 'session',
    setup: () => signIn(9501),
    call: () => apiAs(staff(9501), '/api/auth/logout', json({})),
    objectId: () => expect.stringMatching(/^[0-9a-f]{16}$/) as unknown as string,
  },
  'DELETE /api/auth/sessions/:id': {
    action: 'session.revoke',
    objectType: 'session',
    setup: async () => {
      await signIn(9502);
      await db
        .prepare("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, csrf_token) VALUES (?, 9502, 0, 9e15, 'x')")
        .bind('ab'.repeat(32))
        .run();
      const sessions = (await apiAs(staff(9502), '/api/auth/sessions')).body as { id: string; current: boolean }[];
      return sessions.find((s) => !s.current)!.id;
    },
    call: (sid: string) => apiAs(staff(9502), `/api/auth/sessions/${sid}`, { method: 'DELETE' }),
    objectId: (sid: string) => sid,
  },
  'POST /api/auth/password': {
    action: 'user.password',
    objectType: 'user',
    setup: async () => {
      await signIn(9503);
      await ok(api('/api/users/9503', json({ password: 'first-password-1' }, 'PATCH')));
      await signIn(9503); // a new password ended the session: sign in again
    },
    call: () => apiAs(staff(9503), '/api/auth/password', json({ currentPassword: 'first-password-1', newPassword: 'second-password-2' })),
    objectId: () => '9503',
  },
  'POST /api/users': {
    action: 'user.create',
    objectType: 'user',
    call: () =>
      api(
        '/api/users',
        json({ email: `${uniq('new')}@segflow.test`, name: '新同事', role: 'staff', departmentId: 3, password: 'long-enough-1' }),
      ),
    objectId: newBodyId,
  },
  'PATCH /api/users/:id': {
    action: 'user.update',
    objectType: 'user',
    setup: () => signIn(9504),
    call: () => api('/api/users/9504', json({ role: 'dept_admin' }, 'PATCH')),
    objectId: () => '9504',
  },
  'POST /api/users/:id/revoke-sessions': {
    action: 'user.revoke_sessions',
    objectType: 'user',
    setup: () => signIn(9505),
    call: () => api('/api/users/9505/revoke-sessions', json({})),
    objectId: () => '9505',
  },
  'POST /api/departments': {
    action: 'department.create',
    objectType: 'department',
    call: () => api('/api/departments', json({ name: uniq('新部门'), parentId: 1 })),
    objectId: newBodyId,
  },
  'PATCH /api/departments/:id': {
    action: 'department.rename',
    objectType: 'department',
    call: () => api('/api/departments/4', json({ name: uniq('华南') }, 'PATCH')),
    objectId: () => '4',
  },
  'POST /api/event-sources': {
    action: 'event_source.create',
    objectType: 'event_source',
    call: () => api('/api/event-sources', json({ kind: 'generic', id: 'cov-a', name: 'A' })),
    objectId: () => 'cov-a',
  },
  'POST /api/event-sources/:id/rotate': {
    action: 'event_source.rotate',
    objectType: 'event_source',
    setup: () => ok(api('/api/event-sources', json({ kind: 'generic', id: 'cov-b', name: 'B' }))),
    call: () => api('/api/event-sources/cov-b/rotate', json({})),
    objectId: () => 'cov-b',
  },
  'POST /api/event-sources/:id/revoke': {
    action: 'event_source.revoke',
    objectType: 'event_source',
    setup: () => ok(api('/api/event-sources', json({ kind: 'generic', id: 'cov-c', name: 'C' }))),
    call: () => api('/api/event-sources/cov-c/revoke', json({})),
    objectId: () => 'cov-c',
  },
  'POST /api/destinations': {
    action: 'destination.create',
    objectType: 'destination',
    call: () => api('/api/destinations', json({ name: '推送A', kind: 'webhook', url: 'http://receiver.test/ok/cov?key=secret' })),
    objectId: (_, body) => String(body.destination.id),
  },
  'POST /api/destinations/:id/rotate': {
    action: 'destination.rotate',
    objectType: 'destination',
    setup: seedDeadLetter,
    call: (s) => api(`/api/destinations/${s.destinationId}/rotate`, json({})),
    objectId: (s) => String(s.destinationId),
  },
  'POST /api/destinations/:id/revoke': {
    action: 'destination.revoke',
    objectType: 'destination',
    setup: seedDeadLetter,
    call: (s) => api(`/api/destinations/${s.destinationId}/revoke`, json({})),
    objectId: (s) => String(s.destinationId),
  },
  'POST /api/destinations/:id/test': {
    action: 'destination.test',
    objectType: 'destination',
    setup: seedDeadLetter,
    call: (s) => api(`/api/destinations/${s.destinationId}/test`, json({})),
    objectId: (s) => String(s.destinationId),
  },
  'POST /api/destinations/:id/retry-dead': {
    action: 'destination.retry',
    objectType: 'destination',
    setup: seedDeadLetter,
    call: (s) => api(`/api/destinations/${s.destinationId}/retry-dead`, json({})),
    objectId: (s) => String(s.destinationId),
  },
  'POST /api/destinations/dead-letters/:deliveryId/retry': {
    action: 'destination.retry',
    objectType: 'destination',
    setup: seedDeadLetter,
    call: (s) => api(`/api/destinations/dead-letters/${s.deliveryId}/retry`, json({})),
    objectId: (s) => String(s.destinationId),
  },
  'POST /api/intake/dead-letters/:id/requeue': {
    action: 'event_source.requeue',
    objectType: 'event_source',
    setup: () => newDeadLetter('cov-dl'),
    call: (id: number) => api(`/api/intake/dead-letters/${id}/requeue`, json({})),
    objectId: () => 'cov-dl',
  },
  'POST /api/wecom/connections': {
    action: 'wecom_connection.create',
    objectType: 'wecom_connection',
    call: () => api('/api/wecom/connections', json({ corpId: uniq('wwcov'), contactSecret: 'coverage-contact-secret-01' })),
    objectId: newBodyId,
  },
  'PATCH /api/wecom/connections/:id': {
    action: 'wecom_connection.update',
    objectType: 'wecom_connection',
    setup: newWecomConnection,
    call: (id: number) => api(`/api/wecom/connections/${id}`, json({ contactSecret: 'coverage-contact-secret-02' }, 'PATCH')),
    objectId: (id: number) => String(id),
  },
  'POST /api/wecom/connections/:id/test': {
    action: 'wecom_connection.test',
    objectType: 'wecom_connection',
    setup: newWecomConnection,
    call: (id: number) => api(`/api/wecom/connections/${id}/test`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/wecom/connections/:id/push': {
    action: 'wecom_connection.push',
    objectType: 'wecom_connection',
    setup: newWecomConnection,
    call: (id: number) => api(`/api/wecom/connections/${id}/push`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/wecom/connections/:id/push/retry': {
    action: 'wecom_connection.push',
    objectType: 'wecom_connection',
    setup: newWecomConnection,
    call: (id: number) => api(`/api/wecom/connections/${id}/push/retry`, json({})),
    objectId: (id: number) => String(id),
  },
  'PUT /api/wecom/tag-groups/:id': {
    action: 'tag_group.wecom',
    objectType: 'tag_group',
    setup: async () =>
      (await db.prepare('INSERT INTO tag_groups (name) VALUES (?) RETURNING id').bind(uniq('企微组')).first<number>('id'))!,
    call: (id: number) => api(`/api/wecom/tag-groups/${id}`, json({ sync: true, policy: 'segflow' }, 'PUT')),
    objectId: (id: number) => String(id),
  },
  'POST /api/wecom/connections/:id/sync': {
    action: 'wecom_connection.sync',
    objectType: 'wecom_connection',
    setup: newWecomConnection,
    call: (id: number) => api(`/api/wecom/connections/${id}/sync`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/wecom/connections/:id/sync/resume': {
    action: 'wecom_connection.sync',
    objectType: 'wecom_connection',
    setup: async () => {
      const id = await newWecomConnection();
      await db
        .prepare(
          `INSERT INTO wecom_sync_runs (connection_id, status, phase, started_at, updated_at, finished_at) VALUES (?, 'failed', 'contacts', 1, 1, 1)`,
        )
        .bind(id)
        .run();
      return id;
    },
    call: (id: number) => api(`/api/wecom/connections/${id}/sync/resume`, json({})),
    objectId: (id: number) => String(id),
  },
  'DELETE /api/wecom/connections/:id': {
    action: 'wecom_connection.delete',
    objectType: 'wecom_connection',
    setup: newWecomConnection,
    call: (id: number) => api(`/api/wecom/connections/${id}`, { method: 'DELETE' }),
    objectId: (id: number) => String(id),
  },
  'POST /api/contacts/:id/tags': {
    action: 'contact.tags',
    objectType: 'contact',
    call: () => api('/api/contacts/3/tags', json({ add: [3] })),
    objectId: () => '3',
  },
  'POST /api/taxonomy/groups': {
    action: 'tag_group.create',
    objectType: 'tag_group',
    call: () => api('/api/taxonomy/groups', json({ name: uniq('渠道') })),
    objectId: newBodyId,
  },
  'PATCH /api/taxonomy/groups/:id': {
    action: 'tag_group.update',
    objectType: 'tag_group',
    call: () => api('/api/taxonomy/groups/2', json({ description: uniq('说明') }, 'PATCH')),
    objectId: () => '2',
  },
  'POST /api/taxonomy/tags': {
    action: 'tag.create',
    objectType: 'tag',
    call: () => api('/api/taxonomy/tags', json({ groupId: 2, name: uniq('数码') })),
    objectId: newBodyId,
  },
  'PATCH /api/taxonomy/tags/:id': {
    action: 'tag.update',
    objectType: 'tag',
    setup: () => newTag(uniq('运动')),
    call: (id: number) => api(`/api/taxonomy/tags/${id}`, json({ name: uniq('户外') }, 'PATCH')),
    objectId: (id: number) => String(id),
  },
  'POST /api/taxonomy/tags/:id/retire': {
    action: 'tag.retire',
    objectType: 'tag',
    setup: () => newTag(uniq('临时')),
    call: (id: number) => api(`/api/taxonomy/tags/${id}/retire`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/taxonomy/tags/:id/restore': {
    action: 'tag.restore',
    objectType: 'tag',
    call: () => api('/api/taxonomy/tags/6/restore', json({})),
    objectId: () => '6',
  },
  'POST /api/taxonomy/tags/:id/merge': {
    action: 'tag.merge',
    objectType: 'tag',
    setup: async () => ({ from: await newTag(uniq('旧称')), into: await newTag(uniq('新称')) }),
    call: (s: { from: number; into: number }) => api(`/api/taxonomy/tags/${s.from}/merge`, json({ intoTagId: s.into })),
    objectId: (s: { from: number }) => String(s.from),
  },
  'POST /api/rules': {
    action: 'rule.create',
    objectType: 'rule',
    call: () => api('/api/rules', json({ name: uniq('规则'), graph: ruleGraph() })),
    objectId: newBodyId,
  },
  'PUT /api/rules/:id/draft': {
    action: 'rule.save_draft',
    objectType: 'rule',
    setup: () => newRule(uniq('草稿')),
    call: (id: number) => api(`/api/rules/${id}/draft`, json({ graph: ruleGraph(), name: uniq('改名') }, 'PUT')),
    objectId: (id: number) => String(id),
  },
  'POST /api/rules/:id/duplicate': {
    action: 'rule.duplicate',
    objectType: 'rule',
    setup: () => newRule(uniq('原件')),
    call: (id: number) => api(`/api/rules/${id}/duplicate`, json({})),
    objectId: newBodyId,
  },
  'POST /api/rules/:id/publish': {
    action: 'rule.publish',
    objectType: 'rule',
    setup: () => newRule(uniq('发布')),
    call: (id: number) => publish(id),
    objectId: (id: number) => String(id),
  },
  'POST /api/rules/:id/versions/:version/restore': {
    action: 'rule.restore_version',
    objectType: 'rule',
    setup: async () => {
      const id = await newRule(uniq('版本'));
      await ok(publish(id));
      return id;
    },
    call: (id: number) => api(`/api/rules/${id}/versions/1/restore`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/rules/:id/pause': {
    action: 'rule.pause',
    objectType: 'rule',
    setup: async () => {
      const id = await newRule(uniq('暂停'));
      await ok(publish(id));
      return id;
    },
    call: (id: number) => api(`/api/rules/${id}/pause`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/rules/:id/resume': {
    action: 'rule.resume',
    objectType: 'rule',
    setup: async () => {
      const id = await newRule(uniq('恢复'));
      await ok(publish(id));
      await ok(api(`/api/rules/${id}/pause`, json({})));
      return id;
    },
    call: (id: number) => api(`/api/rules/${id}/resume`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/rules/:id/archive': {
    action: 'rule.archive',
    objectType: 'rule',
    setup: () => newRule(uniq('归档')),
    call: (id: number) => api(`/api/rules/${id}/archive`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/segments': {
    action: 'segment.create',
    objectType: 'segment',
    call: () => api('/api/segments', json({ name: uniq('广东客户'), graph: segmentGraph() })),
    objectId: newBodyId,
  },
  'PUT /api/segments/:id': {
    action: 'segment.update',
    objectType: 'segment',
    setup: async () => (await ok(api('/api/segments', json({ name: uniq('分群'), graph: segmentGraph() })))).id,
    call: (id: number) => api(`/api/segments/${id}`, json({ description: '改' }, 'PUT')),
    objectId: (id: number) => String(id),
  },
  'DELETE /api/segments/:id': {
    action: 'segment.delete',
    objectType: 'segment',
    setup: async () => (await ok(api('/api/segments', json({ name: uniq('将删'), graph: segmentGraph() })))).id,
    call: (id: number) => api(`/api/segments/${id}`, { method: 'DELETE' }),
    objectId: (id: number) => String(id),
  },
  'POST /api/segments/:id/export': {
    action: 'contact.export',
    objectType: 'segment',
    setup: async () => (await ok(api('/api/segments', json({ name: uniq('导出分群'), graph: segmentGraph() })))).id,
    call: (id: number) => api(`/api/segments/${id}/export`, json({ format: 'xlsx' })),
    objectId: (id: number) => String(id),
  },
  'POST /api/alerts/rules': {
    action: 'alert_rule.create',
    objectType: 'alert_rule',
    setup: async () => (await ok(api('/api/segments', json({ name: uniq('告警分群'), graph: segmentGraph() })))).id,
    call: (segmentId: number) => api('/api/alerts/rules', json({ name: uniq('告警'), kind: 'segment_drop', segmentId, threshold: 30 })),
    objectId: (_, body) => String(body.id),
  },
  'PATCH /api/alerts/rules/:id': {
    action: 'alert_rule.update',
    objectType: 'alert_rule',
    setup: newAlertRule,
    call: (s: AlertRuleSetup) =>
      api(`/api/alerts/rules/${s.id}`, json({ name: uniq('告警'), kind: 'segment_rise', segmentId: s.segmentId, threshold: 20 }, 'PATCH')),
    objectId: (s: AlertRuleSetup) => String(s.id),
  },
  'POST /api/alerts/rules/:id/mute': {
    action: 'alert_rule.mute',
    objectType: 'alert_rule',
    setup: newAlertRule,
    call: (s: AlertRuleSetup) => api(`/api/alerts/rules/${s.id}/mute`, json({ until: Date.now() + 3_600_000 })),
    objectId: (s: AlertRuleSetup) => String(s.id),
  },
  'POST /api/alerts/rules/:id/unmute': {
    action: 'alert_rule.unmute',
    objectType: 'alert_rule',
    setup: async () => {
      const s = await newAlertRule();
      await ok(api(`/api/alerts/rules/${s.id}/mute`, json({})));
      return s;
    },
    call: (s: AlertRuleSetup) => api(`/api/alerts/rules/${s.id}/unmute`, json({})),
    objectId: (s: AlertRuleSetup) => String(s.id),
  },
  'POST /api/templates/:id/instantiate': {
    action: 'rule.from_template',
    objectType: 'rule',
    // creates the group and tags of 风险 the first time: still one entry
    call: () => api('/api/templates/violation_ladder/instantiate', json({ name: uniq('违规阶梯') })),
    objectId: (_: unknown, body: any) => String(body.rule.id),
  },
  'POST /api/alerts/:id/ack': {
    action: 'alert.acknowledge',
    objectType: 'alert',
    setup: async () => {
      const s = await newAlertRule();
      return (await db
        .prepare(
          `INSERT INTO alerts (alert_rule_id, kind, state, measured, raised_at) VALUES (?, 'segment_drop', 'open', '{}', 1) RETURNING id`,
        )
        .bind(s.id)
        .first<number>('id'))!;
    },
    call: (id: number) => api(`/api/alerts/${id}/ack`, json({})),
    objectId: (id: number) => String(id),
  },
  'POST /api/publishing/plans': {
    action: 'publish_plan.create',
    objectType: 'rule',
    setup: () => newRule(uniq('定时')),
    call: async (id: number) => {
      const p = await ok(api('/api/rules/preview', json({ graph: ruleGraph(), ruleId: id, rolloutPercent: 100, sampleSize: 0 })));
      const at = msToLocalTime(Date.now() + 86_400_000, tzOffsetMinutes(env));
      return api(
        '/api/publishing/plans',
        json({ ruleId: id, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true, steps: [{ percent: 100, at }] }),
      );
    },
    objectId: (id: number) => String(id),
  },
  'POST /api/publishing/plans/:id/approve': {
    action: 'publish_plan.approve',
    objectType: 'rule',
    setup: () => newPlan('awaiting_approval'),
    call: (s: PlanSetup) => api(`/api/publishing/plans/${s.plan}/approve`, json({})),
    objectId: (s: PlanSetup) => String(s.rule),
  },
  'POST /api/publishing/plans/:id/reject': {
    action: 'publish_plan.reject',
    objectType: 'rule',
    setup: () => newPlan('awaiting_approval'),
    call: (s: PlanSetup) => api(`/api/publishing/plans/${s.plan}/reject`, json({ reason: '再等等' })),
    objectId: (s: PlanSetup) => String(s.rule),
  },
  'POST /api/publishing/plans/:id/cancel': {
    action: 'publish_plan.cancel',
    objectType: 'rule',
    setup: () => newPlan('scheduled'),
    call: (s: PlanSetup) => api(`/api/publishing/plans/${s.plan}/cancel`, json({})),
    objectId: (s: PlanSetup) => String(s.rule),
  },
  'POST /api/publishing/plans/:id/resume': {
    action: 'publish_plan.resume',
    objectType: 'rule',
    setup: () => newPlan('paused'),
    call: (s: PlanSetup) => api(`/api/publishing/plans/${s.plan}/resume`, json({})),
    objectId: (s: PlanSetup) => String(s.rule),
  },
  'PUT /api/publishing/policies/:departmentId': {
    action: 'publish_policy.update',
    objectType: 'department',
    call: () => api('/api/publishing/policies/4', json({ requireApproval: true }, 'PUT')),
    objectId: () => '4',
  },
  // the training job runs later on the queue and writes no entry of its own
  'POST /api/suggestions': {
    action: 'suggestion.create',
    objectType: 'suggestion',
    call: () => api('/api/suggestions', json({ outcome: { kind: 'tag', tagId: 3 }, depth: 2, minLeaf: 10 })),
    objectId: newBodyId,
  },
  'POST /api/suggestions/:id/draft': {
    action: 'rule.from_suggestion',
    objectType: 'rule',
    setup: newSuggestion,
    call: (id: number) => api(`/api/suggestions/${id}/draft`, json({ name: uniq('学习') })),
    objectId: (_: number, body: any) => String(body.ruleId),
  },
  // the refit is a new suggestion, trained later on the queue
  'POST /api/suggestions/:id/refit': {
    action: 'suggestion.refit',
    objectType: 'suggestion',
    setup: async () => {
      const rule = await newRule(uniq('学习'));
      return { rule, from: await newSuggestion({ ruleIds: [rule] }) };
    },
    call: (s: { rule: number; from: number }) => api(`/api/suggestions/${s.from}/refit`, json({ ruleId: s.rule })),
    objectId: newBodyId,
  },
  'POST /api/suggestions/:id/apply': {
    action: 'rule.from_refit',
    objectType: 'rule',
    setup: async () => {
      const rule = await newRule(uniq('学习'));
      return { rule, refit: await newSuggestion({ refitOf: rule }) };
    },
    call: (s: { rule: number; refit: number }) => api(`/api/suggestions/${s.refit}/apply`, json({})),
    objectId: (s: { rule: number }) => String(s.rule),
  },
};

/** A finished suggestion for "holds tag 3" whose draft is the rule graph above, written straight to D1. */
async function newSuggestion(link: { ruleIds?: number[]; refitOf?: number } = {}): Promise<number> {
  const result = {
    graph: ruleGraph(),
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
      `INSERT INTO rule_suggestions (status, progress, params, result, rule_ids, created_at, updated_at) VALUES ('done', 100, ?, ?, ?, 1, 1) RETURNING id`,
    )
    .bind(
      JSON.stringify({
        outcome: { kind: 'tag', tagId: 3 },
        depth: 2,
        minLeaf: 10,
        seed: 1,
        ...(link.refitOf ? { refit: { from: 1, ruleId: link.refitOf } } : {}),
      }),
      JSON.stringify(result),
      JSON.stringify(link.ruleIds ?? []),
    )
    .first<number>('id'))!;
}

interface PlanSetup {
  rule: number;
  plan: number;
}
/** A plan of a fresh rule (its step a day away, so approving publishes nothing yet), written straight to D1. */
async function newPlan(state: 'awaiting_approval' | 'scheduled' | 'paused'): Promise<PlanSetup> {
  const rule = await newRule(uniq('计划'));
  const plan = (await db
    .prepare(
      `INSERT INTO publish_plans (rule_id, state, steps, graph_hash, graph, preview, requested_by, requested_at, updated_at)
       VALUES (?, ?, ?, ?, ?, '{}', 9001, 1, 1) RETURNING id`,
    )
    .bind(
      rule,
      state,
      JSON.stringify([{ percent: 100, at: Date.now() + 86_400_000 }]),
      await graphHash(ruleGraph()),
      JSON.stringify(ruleGraph()),
    )
    .first<number>('id'))!;
  return { rule, plan };
}

interface AlertRuleSetup {
  id: number;
  segmentId: number;
}
/** An alert rule on a fresh segment, through the API (its create entry written in setup). */
async function newAlertRule(): Promise<AlertRuleSetup> {
  const segmentId = (await ok(api('/api/segments', json({ name: uniq('告警分群'), graph: segmentGraph() })))).id as number;
  const rule = await ok(api('/api/alerts/rules', json({ name: uniq('告警'), kind: 'segment_drop', segmentId, threshold: 30 })));
  return { id: rule.id as number, segmentId };
}

/** POST routes that compute and answer without changing anything: they must write no entry. */
const READ_ONLY: Record<string, () => Promise<Res>> = {
  'POST /api/rollbacks/preview': () => api('/api/rollbacks/preview', json({ kind: 'to_time', at: Date.now() - 86_400_000 })),
  'POST /api/rules/preview': () => api('/api/rules/preview', json({ graph: ruleGraph(), sampleSize: 0 })),
  'POST /api/rules/explain': () => api('/api/rules/explain', json({ graph: ruleGraph(), contactId: 3 })),
  'POST /api/segments/preview': () => api('/api/segments/preview', json({ graph: segmentGraph(), sampleSize: 0 })),
  'POST /api/taxonomy/tags/check': () => api('/api/taxonomy/tags/check', json({ name: '美妆', groupId: 2 })),
  'POST /api/score-calibration': () => api('/api/score-calibration', json({ metrics: [{ field: 'totalSpend' }] })),
};

const auditCount = async () => (await db.prepare('SELECT COUNT(*) AS n FROM audit_log').first<{ n: number }>())!.n;

beforeAll(async () => {
  await seedSmallWorld();
});

describe('audit coverage', () => {
  it('lists every mutating route of the app (a new route must be added here)', () => {
    const routes = mutatingRoutes();
    expect(routes.length).toBeGreaterThan(20);
    const listed = new Set([...Object.keys(CASES), ...Object.keys(READ_ONLY)]);
    expect(
      routes.filter((r) => !listed.has(r)),
      'mutating routes with no entry in CASES / READ_ONLY',
    ).toEqual([]);
    expect(
      [...listed].filter((r) => !routes.includes(r)),
      'entries for routes that no longer exist',
    ).toEqual([]);
  });

  for (const [route, c] of Object.entries(CASES)) {
    it(`${route} writes exactly one ${c.action} entry`, async () => {
      const state = c.setup ? await c.setup() : undefined;
      const last = (await db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM audit_log').first<{ id: number }>())!.id;
      const res = await c.call(state);
      expect(res.status, `${route}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      const rows = (await db.prepare('SELECT action, object_type, object_id FROM audit_log WHERE id > ?').bind(last).all<any>()).results;
      expect(rows).toEqual([{ action: c.action, object_type: c.objectType, object_id: c.objectId(state, res.body) }]);
    });
  }

  for (const [route, call] of Object.entries(READ_ONLY)) {
    it(`${route} only reads: no entry`, async () => {
      const before = await auditCount();
      const res = await call();
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await auditCount()).toBe(before);
    });
  }

  it('is atomic: a change that fails after validation (a unique conflict) leaves no audit entry', async () => {
    // Another request creates source "clash" between our existence check and our write: the
    // trigger inserts it inside our INSERT statement, which then fails on the primary key.
    await db
      .prepare(
        `CREATE TRIGGER concurrent_create BEFORE INSERT ON event_sources WHEN NEW.id = 'clash' AND NEW.name = 'ours'
         BEGIN INSERT INTO event_sources (id, name, kind, secret) VALUES ('clash', 'theirs', 'generic', 's'); END`,
      )
      .run();
    try {
      const before = await auditCount();
      const res = await api('/api/event-sources', json({ kind: 'generic', id: 'clash', name: 'ours' }));
      expect(res.status).toBe(409);
      expect(res.body.error.details[0].path).toBe('id');
      // the whole batch rolled back: neither the source (ours nor the trigger's) nor the entry
      expect(await auditCount()).toBe(before);
      expect(await db.prepare("SELECT COUNT(*) AS n FROM event_sources WHERE id = 'clash'").first('n')).toBe(0);
    } finally {
      await db.prepare('DROP TRIGGER concurrent_create').run();
    }
    // without the conflict the same call succeeds and writes its entry
    const again = await api('/api/event-sources', json({ kind: 'generic', id: 'clash', name: 'ours' }));
    expect(again.status).toBe(201);
    expect(
      await db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'event_source.create' AND object_id = 'clash'").first('n'),
    ).toBe(1);
  });
});

/** The sentence the audit screen shows for an entry: `auditSummary.<object>.<verb>`, or its `variant`. */
function sentence(messages: typeof zhAudit, action: string, params: Record<string, unknown>): string | null {
  const [object, verb] = action.split('.') as [string, string];
  let v: unknown = (messages.auditSummary as Record<string, Record<string, unknown>>)[object]?.[verb];
  if (v !== null && typeof v === 'object')
    v = typeof params.variant === 'string' ? (v as Record<string, unknown>)[params.variant] : undefined;
  return typeof v === 'string' ? v : null;
}

describe('audit sentences', () => {
  it('drives the variants the table does not: a department move, a rollback of one contact, a tag restore, the purge', async () => {
    await ok(api('/api/departments/4', json({ parentId: 2 }, 'PATCH')));
    await ok(api('/api/departments/4', json({ name: uniq('华南'), parentId: null }, 'PATCH')));
    const tag = await newTag(uniq('回访'));
    await ok(api('/api/contacts/2/tags', json({ add: [tag] })));
    await ok(api('/api/contacts/2/tags', json({ add: [3], remove: [tag] })));
    const target = { kind: 'to_time', at: Date.now() - 60_000, contactId: 2 };
    const { count } = await ok(api('/api/rollbacks/preview', json(target)));
    await ok(api('/api/rollbacks', json({ ...target, confirm: { count } })));
    await ok(api(`/api/taxonomy/tags/${tag}/retire`, json({})));
    const restore = { kind: 'tag_restore', tagId: tag };
    const restoreCount = (await ok(api('/api/rollbacks/preview', json(restore)))).count;
    await ok(api('/api/rollbacks', json({ ...restore, confirm: { count: restoreCount } })));
    await ok(
      api(
        '/api/exports/contacts',
        json({ segmentId: (await ok(api('/api/segments', json({ name: uniq('导出分群'), graph: segmentGraph() })))).id }),
      ),
    );
    // one entry older than the retention: the purge deletes it and records that it did
    await db
      .prepare("INSERT INTO audit_log (at, action, object_type, object_id, summary) VALUES (0, 'rule.create', 'rule', '1', 'old')")
      .run();
    expect((await purgeExpired(env, Date.now())).auditEntries).toBe(1);
  });

  it('every entry written above has params that fill every placeholder of its zh-CN and en sentence', async () => {
    const rows = (
      await db.prepare('SELECT id, action, params FROM audit_log ORDER BY id').all<{ id: number; action: string; params: string | null }>()
    ).results;
    const actions = new Set(rows.map((r) => r.action));
    // the table's actions, the variants above, the purge: nearly every action there is
    for (const c of Object.values(CASES)) expect(actions).toContain(c.action);
    for (const a of ['department.move', 'rollback.to_time', 'rollback.tag_restore', 'audit.purge']) expect(actions).toContain(a);
    const problems: string[] = [];
    for (const r of rows) {
      const params = r.params === null ? null : (JSON.parse(r.params) as Record<string, unknown>);
      if (params === null || typeof params !== 'object' || Array.isArray(params)) {
        problems.push(`#${r.id} ${r.action}: no params`);
        continue;
      }
      for (const [locale, messages] of [
        ['zh-CN', zhAudit],
        ['en', enAudit],
      ] as const) {
        const text = sentence(messages, r.action, params);
        if (text === null) {
          problems.push(`#${r.id} ${r.action}: no ${locale} sentence for ${JSON.stringify(params)}`);
          continue;
        }
        for (const [, name] of text.matchAll(/\{(\w+)\}/g)) {
          const v = params[name!];
          if (v === undefined || (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean' && v !== null)) {
            problems.push(`#${r.id} ${r.action}: ${locale} {${name}} not in ${JSON.stringify(params)}`);
          }
        }
      }
    }
    expect(rows.length).toBeGreaterThan(Object.keys(CASES).length);
    expect(problems).toEqual([]);
  });
});
