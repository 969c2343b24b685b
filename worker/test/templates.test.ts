/**
 * The template gallery over the small world (生命周期 holds 活跃客户 and 沉睡客户): listing,
 * instantiating (missing tags created once, near-duplicates used, the draft saved and compiling,
 * one audit entry, one batch), unknown templates and rights.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { InstantiateResponse, TemplateInfo } from '@shared/api/templates';
import type { RulePreviewResponse } from '@shared/api/rules';
import { api, apiAs, seedSmallWorld, type TestUser } from './fixtures';

const db = env.DB;
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const ADMIN: TestUser = { id: 9201, role: 'dept_admin', departmentId: 2 };
const STAFF: TestUser = { id: 9202, role: 'staff', departmentId: 2 };

const tagCount = async () => (await db.prepare('SELECT count(*) AS n FROM tags').first<{ n: number }>())!.n;
const tagIdsOf = (r: InstantiateResponse) =>
  r.rule.draftGraph.nodes.flatMap((n) => (n.kind === 'action' && n.action.type === 'add_tag' ? [n.action.tagId] : [])).sort();

beforeAll(async () => {
  await seedSmallWorld();
});

describe('GET /api/templates', () => {
  it('lists the gallery with the tags each template needs and which exist', async () => {
    const r = await apiAs<TemplateInfo[]>(STAFF, '/api/templates');
    expect(r.status).toBe(200);
    expect(r.body.map((t) => t.id)).toEqual([
      'rfm',
      'member_score',
      'lifecycle',
      'violation_ladder',
      'keyword_tagging',
      'qr_channel',
      'inactive_180',
    ]);
    const lifecycle = r.body.find((t) => t.id === 'lifecycle')!;
    expect(lifecycle.tags.map((t) => [t.name, t.existingId])).toEqual([
      ['新客', null],
      ['活跃客户', 1],
      ['沉睡客户', 2],
      ['流失客户', null],
    ]);
    expect(r.body.find((t) => t.id === 'violation_ladder')).toMatchObject({ usesOutbound: true, outboundAvailable: false });
  });
});

describe('POST /api/templates/:id/instantiate', () => {
  it('creates the missing tags once, uses the existing ones, and saves a draft that compiles, with one audit entry', async () => {
    const before = await tagCount();
    const lastAudit = (await db.prepare('SELECT coalesce(max(id), 0) AS id FROM audit_log').first<{ id: number }>())!.id;
    const r = await api<InstantiateResponse>('/api/templates/lifecycle/instantiate', json({ name: '客户生命周期' }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.tags.map((t) => [t.name, t.outcome])).toEqual([
      ['新客', 'created'],
      ['活跃客户', 'existing'],
      ['沉睡客户', 'existing'],
      ['流失客户', 'created'],
    ]);
    expect(await tagCount()).toBe(before + 2);
    const created = r.body.tags.filter((t) => t.outcome === 'created');
    const rows = await db
      .prepare(`SELECT id, group_id, status FROM tags WHERE id IN (${created.map((t) => t.id).join(',')}) ORDER BY id`)
      .all<{ id: number; group_id: number; status: string }>();
    expect(rows.results.map((x) => [x.group_id, x.status])).toEqual([
      [1, 'active'],
      [1, 'active'],
    ]);
    // the stored draft refers to the real ids (set inside the batch), and compiles
    expect(r.body.rule.status).toBe('draft');
    expect(r.body.rule.errors).toEqual([]);
    expect(tagIdsOf(r.body)).toEqual(r.body.tags.map((t) => t.id).sort());
    const stored = await db.prepare('SELECT draft_graph FROM rules WHERE id = ?').bind(r.body.rule.id).first<{ draft_graph: string }>();
    expect(JSON.parse(stored!.draft_graph)).toEqual(r.body.rule.draftGraph);
    const audit = await db
      .prepare('SELECT action, object_id, params, after FROM audit_log WHERE id > ?')
      .bind(lastAudit)
      .all<{ action: string; object_id: string; params: string; after: string }>();
    expect(audit.results).toHaveLength(1);
    expect(audit.results[0]).toMatchObject({ action: 'rule.from_template', object_id: String(r.body.rule.id) });
    expect(JSON.parse(audit.results[0]!.params)).toEqual({
      variant: 'tags',
      name: '客户生命周期',
      template: 'lifecycle',
      tags: '生命周期 › 新客、生命周期 › 流失客户',
    });
    expect(JSON.parse(audit.results[0]!.after).draftGraph).toEqual(r.body.rule.draftGraph);
    // the preview counts it (the gallery opens the editor with this)
    const p = await api<RulePreviewResponse>(
      '/api/rules/preview',
      json({ graph: r.body.rule.draftGraph, ruleId: r.body.rule.id, sampleSize: 0 }),
    );
    expect(p.status).toBe(200);
    expect(p.body.ok).toBe(true);

    // again: nothing new, every tag the same
    const again = await api<InstantiateResponse>('/api/templates/lifecycle/instantiate', json({ name: '客户生命周期 2' }));
    expect(again.status).toBe(201);
    expect(again.body.tags.every((t) => t.outcome === 'existing')).toBe(true);
    expect(tagIdsOf(again.body)).toEqual(tagIdsOf(r.body));
    expect(await tagCount()).toBe(before + 2);
  });

  it('uses a near-duplicate of its own group instead of a near-copy, and reports look-alikes in other groups', async () => {
    await db.batch([
      db.prepare("INSERT INTO tag_groups (id, name, exclusive, sort_order) VALUES (130, '价值分层', 1, 5)"),
      // traditional characters: the same name
      db.prepare("INSERT INTO tags (id, group_id, level, name, status) VALUES (300, 130, 1, '高價值客户', 'active')"),
      // the same name in another group: not used (exclusivity is the template group's), reported
      db.prepare("INSERT INTO tags (id, group_id, level, name, status) VALUES (301, 2, 1, '普通客户', 'active')"),
    ]);
    const r = await api<InstantiateResponse>('/api/templates/rfm/instantiate', json({ name: 'RFM' }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.tags.map((t) => [t.name, t.outcome, t.wanted ?? null])).toEqual([
      ['高價值客户', 'near_duplicate', '高价值客户'],
      ['潜力客户', 'created', null],
      ['普通客户', 'created', null],
    ]);
    expect(r.body.tags[0]!.reason).toEqual({ kind: 'traditional' });
    expect(r.body.nearDuplicates).toEqual([
      { created: '普通客户', similar: { id: 301, name: '普通客户', group: '兴趣偏好' }, reason: { kind: 'exact' } },
    ]);
    expect(tagIdsOf(r.body)).toContain(300);
    expect(r.body.rule.errors).toEqual([]);
  });

  it('creates a missing group with the template settings, owned by the rule department', async () => {
    const r = await apiAs<InstantiateResponse>(ADMIN, '/api/templates/member_score/instantiate', json({ name: '群成员评分' }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.groupsCreated).toEqual(['群成员评级']);
    const g = await db
      .prepare("SELECT exclusive, department_id, apply_role FROM tag_groups WHERE name = '群成员评级'")
      .first<{ exclusive: number; department_id: number; apply_role: string }>();
    expect(g).toEqual({ exclusive: 1, department_id: 2, apply_role: 'dept_admin' });
    const rule = await db.prepare('SELECT department_id, created_by FROM rules WHERE id = ?').bind(r.body.rule.id).first();
    expect(rule).toEqual({ department_id: 2, created_by: ADMIN.id });
    // the penalty survives the round trip
    const band = r.body.rule.draftGraph.nodes.find((n) => n.kind === 'band');
    expect(band?.kind === 'band' && band.metrics.map((m) => m.weight)).toEqual([30, 25, 20, 15, -10]);
    // the band node's tags are the group's new tags, in band order (placeholders replaced in the batch)
    const made = await db
      .prepare("SELECT t.id, t.name FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE g.name = '群成员评级' ORDER BY t.id")
      .all<{ id: number; name: string }>();
    const idOf = new Map(made.results.map((t) => [t.name, t.id]));
    const expected = ['核心成员', '活跃成员', '普通成员', '观察名单'].map((n) => idOf.get(n));
    expect(band?.kind === 'band' && band.bands.map((b) => b.tagId)).toEqual(expected);
    expect(r.body.rule.errors).toEqual([]);
  });

  it('answers 404 for an unknown template and 400 for a bad body, writing nothing', async () => {
    const before = await tagCount();
    const unknown = await api('/api/templates/nope/instantiate', json({ name: 'x' }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('nope');
    const bad = await api('/api/templates/rfm/instantiate', json({ name: '', extra: 1 }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['extra', 'name']);
    expect(await tagCount()).toBe(before);
  });

  it('needs the rights of creating a rule and of the tags: staff 403, a department admin may not add tags to a company-wide group', async () => {
    const before = await tagCount();
    expect((await apiAs(STAFF, '/api/templates/rfm/instantiate', json({ name: 'x' }))).status).toBe(403);
    // 风险 is company-wide and lacks 禁言 / 移出群聊: only super admins may add them
    await db.batch([
      db.prepare("INSERT INTO tag_groups (id, name, exclusive, sort_order, apply_role) VALUES (500, '风险', 1, 6, 'staff')"),
      db.prepare("INSERT INTO tags (id, group_id, level, name, status) VALUES (5000, 500, 1, '违规警告', 'active')"),
    ]);
    const refused = await apiAs(ADMIN, '/api/templates/violation_ladder/instantiate', json({ name: '违规阶梯' }));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('风险');
    // another department's rule
    expect((await apiAs(ADMIN, '/api/templates/lifecycle/instantiate', json({ name: 'x', departmentId: 4 }))).status).toBe(403);
    expect(await tagCount()).toBe(before + 1);
    // once the tags exist, the department admin may (applying them is allowed)
    expect((await api('/api/templates/violation_ladder/instantiate', json({ name: '违规阶梯' }))).status).toBe(201);
    const ok = await apiAs<InstantiateResponse>(ADMIN, '/api/templates/violation_ladder/instantiate', json({ name: '违规阶梯' }));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.tags.every((t) => t.outcome === 'existing')).toBe(true);
  });

  it('refuses (409) a template whose tag is retired in its group, naming it, and writes nothing', async () => {
    await db.batch([
      db.prepare("INSERT INTO tag_groups (id, name, exclusive, sort_order) VALUES (600, '运营标记', 0, 7)"),
      db.prepare("INSERT INTO tags (id, group_id, level, name, status) VALUES (6000, 600, 1, '待跟进', 'retired')"),
    ]);
    const before = await tagCount();
    const r = await api('/api/templates/keyword_tagging/instantiate', json({ name: '关键词' }));
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain('待跟进');
    expect(r.body.error.message).toContain('#6000');
    expect(await tagCount()).toBe(before);
  });

  it('adds the notify actions when a notify destination exists', async () => {
    await db
      .prepare(
        "INSERT INTO destinations (id, name, kind, url, secret_enc) VALUES (40, '群主通知', 'notify', 'https://example.test/n', 'x')",
      )
      .run();
    const r = await api<InstantiateResponse>('/api/templates/violation_ladder/instantiate', json({ name: '违规阶梯（通知）' }));
    expect(r.status).toBe(201);
    const notifies = r.body.rule.draftGraph.nodes.filter((n) => n.kind === 'action' && n.action.type === 'notify');
    expect(notifies).toHaveLength(2);
    expect(r.body.rule.errors).toEqual([]);
  });

  it('is one batch: a failing rule insert leaves no tag, group or audit entry behind', async () => {
    await db
      .prepare(
        "CREATE TRIGGER tpl_boom BEFORE INSERT ON rules WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: boom'); END",
      )
      .run();
    try {
      const tags = await tagCount();
      const audits = (await db.prepare('SELECT count(*) AS n FROM audit_log').first<{ n: number }>())!.n;
      const r = await api('/api/templates/qr_channel/instantiate', json({ name: 'boom' }));
      expect(r.status).toBe(409);
      expect(await tagCount()).toBe(tags);
      expect(await db.prepare("SELECT count(*) AS n FROM tag_groups WHERE name = '来源渠道'").first('n')).toBe(0);
      expect((await db.prepare('SELECT count(*) AS n FROM audit_log').first<{ n: number }>())!.n).toBe(audits);
    } finally {
      await db.prepare('DROP TRIGGER tpl_boom').run();
    }
  });
});
