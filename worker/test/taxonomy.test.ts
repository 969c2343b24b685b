import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, NOW, seedSmallWorld } from './fixtures';

// Small world (fixtures.ts): 生命周期 #1 is exclusive (1 活跃客户, 2 沉睡客户); 兴趣偏好 #2 is not
// (3 美妆 › 4 护肤 › 5 抗老, 6 旧标签 retired). Contacts 1, 2, 5 hold 1; contact 4 holds 2;
// contact 1 also holds 4 and 5; contact 5 holds 3.
const db = env.DB;
const DAY = 86_400_000;

const post = (path: string, body: unknown) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const patch = (path: string, body: unknown) =>
  api(path, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const all = async <T = any>(sql: string, ...params: unknown[]) =>
  (
    await db
      .prepare(sql)
      .bind(...params)
      .all<T>()
  ).results;

beforeEach(async () => {
  await db.batch(
    ['contact_tags', 'tag_ledger', 'audit_log', 'rule_versions', 'rules', 'segments', 'tags', 'tag_groups', 'contacts', 'departments'].map(
      (t) => db.prepare(`DELETE FROM ${t}`),
    ),
  );
  await seedSmallWorld();
});

const graph = (nodes: unknown[]) => JSON.stringify({ schemaVersion: 1, nodes, edges: [] });
const purchaseTrigger = { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'purchase', filters: [] } };

/** A rule whose draft and (optionally) published version use the given graphs. */
async function insertRule(id: number, name: string, draft: string, published?: string) {
  await db.batch([
    db
      .prepare(`INSERT INTO rules (id, name, status, draft_graph, published_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .bind(id, name, published ? 'published' : 'draft', draft, published ? 1 : null, NOW, NOW),
    ...(published
      ? [
          db
            .prepare(
              `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, created_at, published_at) VALUES (?, 1, ?, '{}', 'purchase', ?, ?)`,
            )
            .bind(id, published, NOW, NOW),
        ]
      : []),
  ]);
}

describe('creating tags', () => {
  it('creates a tag under a parent on the next level, with an audit row', async () => {
    const { status, body } = await post('/api/taxonomy/tags', { groupId: 2, parentId: 3, name: '彩妆', color: '#ff6699' });
    expect(status).toBe(201);
    expect(body).toMatchObject({ groupId: 2, parentId: 3, level: 2, name: '彩妆', color: '#ff6699', status: 'active' });
    const audit = await all('SELECT action, object_type, object_id FROM audit_log');
    expect(audit).toEqual([{ action: 'tag.create', object_type: 'tag', object_id: String(body.id) }]);
  });

  it('refuses a near-duplicate with the tag to use instead, and creates it when acknowledged', async () => {
    const refused = await post('/api/taxonomy/tags', { groupId: 1, name: '活躍客戶' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('活跃客户');
    expect(refused.body.error.details[0].message).toContain('#1');
    expect(await all(`SELECT id FROM tags WHERE name = '活躍客戶'`)).toEqual([]);

    const check = await post('/api/taxonomy/tags/check', { name: '活躍客戶', groupId: 1 });
    expect(check.body.duplicates[0]).toMatchObject({
      tag: { id: 1, name: '活跃客户', groupName: '生命周期', holders: 3 },
      reason: { kind: 'traditional' },
    });

    const created = await post('/api/taxonomy/tags', { groupId: 2, name: '活躍客戶', allowDuplicate: true });
    expect(created.status).toBe(201);
  });

  it('refuses a homophone typo of an existing tag, naming the characters read alike', async () => {
    const refused = await post('/api/taxonomy/tags', { groupId: 1, name: '活越客户' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('活跃客户');
    expect(refused.body.error.details[0].message).toContain('sounds the same (越 ↔ 跃: yue)');
    const check = await post('/api/taxonomy/tags/check', { name: '活越客户', groupId: 1 });
    expect(check.body.duplicates[0]).toMatchObject({
      tag: { id: 1, name: '活跃客户' },
      reason: { kind: 'homophone', pairs: [{ from: '越', to: '跃', reading: 'yue' }] },
    });
    expect(await all(`SELECT id FROM tags WHERE name = '活越客户'`)).toEqual([]);
  });

  it('refuses the same name in the same group even when duplicates are acknowledged', async () => {
    const { status, body } = await post('/api/taxonomy/tags', { groupId: 2, name: '美妆', allowDuplicate: true });
    expect(status).toBe(409);
    expect(body.error.message).toContain('#3');
  });

  it('checks a group naming template and explains it with an example', async () => {
    const group = await post('/api/taxonomy/groups', { name: '部门小组' });
    expect(group.status).toBe(201);
    expect(group.body.namingTemplate).toBe('{部门}_{小组}');
    const bad = await post('/api/taxonomy/tags', { groupId: group.body.id, name: '销售华东' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ path: 'name', message: expect.stringContaining('部门_小组') }]);
    expect((await post('/api/taxonomy/tags', { groupId: group.body.id, name: '销售_华东' })).status).toBe(201);

    const config = await api('/api/taxonomy/config');
    expect(config.body).toEqual({
      maxLevel: 3,
      perGroupLimit: 200,
      totalLimit: 3000,
      totalTags: 6, // five active seeded tags and 销售_华东; 旧标签 is retired
      retirementIdleDays: 180,
      namingTemplates: { [group.body.id]: '{部门}_{小组}' },
    });
  });

  it('keeps the tree within three levels', async () => {
    const { status, body } = await post('/api/taxonomy/tags', { groupId: 2, parentId: 5, name: '眼霜' });
    expect(status).toBe(409);
    expect(body.error.message).toContain('3');
  });

  it('enforces the per-group limit', async () => {
    const group = await post('/api/taxonomy/groups', { name: '渠道', maxTags: 1 });
    expect((await post('/api/taxonomy/tags', { groupId: group.body.id, name: '抖音' })).status).toBe(201);
    const second = await post('/api/taxonomy/tags', { groupId: group.body.id, name: '小红书' });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain('limit of 1');
  });

  it('answers bad input with 400 naming the field, unknown ids with 400/404, never 500', async () => {
    const unknownField = await post('/api/taxonomy/tags', { groupId: 2, name: '新', colour: '#fff' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.details).toEqual([{ path: 'colour', message: 'unknown field' }]);
    expect((await post('/api/taxonomy/tags', { groupId: 99, name: '新' })).status).toBe(400);
    expect((await post('/api/taxonomy/tags', { groupId: 2, name: '' })).status).toBe(400);
    expect((await patch('/api/taxonomy/tags/999', { name: '新' })).status).toBe(404);
    expect((await post('/api/taxonomy/tags/999/retire', {})).status).toBe(404);
    expect((await post('/api/taxonomy/tags/abc/retire', {})).status).toBe(400);
    const badJson = await api('/api/taxonomy/tags', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(badJson.status).toBe(400);
  });
});

describe('editing tags and groups', () => {
  it('moves a subtree and recomputes the levels below it', async () => {
    const { status, body } = await patch('/api/taxonomy/tags/4', { parentId: null });
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 4, parentId: null, level: 1 });
    expect(await all('SELECT id, level FROM tags WHERE id IN (4, 5) ORDER BY id')).toEqual([
      { id: 4, level: 1 },
      { id: 5, level: 2 },
    ]);
  });

  it('refuses to move a tag under its own descendant', async () => {
    const { status, body } = await patch('/api/taxonomy/tags/3', { parentId: 5 });
    expect(status).toBe(409);
    expect(body.error.details[0].message).toContain('cycle');
  });

  it('renames with the same duplicate checks, records before and after', async () => {
    expect((await patch('/api/taxonomy/tags/2', { name: '活跃用户' })).status).toBe(409);
    const { status } = await patch('/api/taxonomy/tags/2', { name: '休眠客户', description: '90 天未互动' });
    // 休眠 is a synonym of 沉睡: it looks like the tag itself, which is not a duplicate
    expect(status).toBe(200);
    const [row] = await all('SELECT before, after FROM audit_log WHERE action = ?', 'tag.update');
    expect(JSON.parse(row.before).name).toBe('沉睡客户');
    expect(JSON.parse(row.after)).toMatchObject({ name: '休眠客户', description: '90 天未互动' });
  });

  it('refuses to make a group exclusive while contacts hold several of its tags', async () => {
    const { status, body } = await patch('/api/taxonomy/groups/2', { exclusive: true });
    expect(status).toBe(409);
    expect(body.error.message).toContain('1 contacts');
    const group = await db.prepare('SELECT exclusive FROM tag_groups WHERE id = 2').first<{ exclusive: number }>();
    expect(group!.exclusive).toBe(0);
  });
});

describe('retirement', () => {
  it('refuses while a published rule uses the tag, naming the rule', async () => {
    await insertRule(
      11,
      '高消费打美妆',
      graph([purchaseTrigger]),
      graph([purchaseTrigger, { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 3 } }]),
    );
    // 美妆 has an active child: move it out first, so only the rule blocks
    await patch('/api/taxonomy/tags/4', { parentId: null });
    const { status, body } = await post('/api/taxonomy/tags/3/retire', {});
    expect(status).toBe(409);
    expect(body.error.message).toContain('高消费打美妆');
    expect(body.error.details).toEqual([{ path: 'rules.11', message: expect.stringContaining('v1') }]);
    expect((await db.prepare('SELECT status FROM tags WHERE id = 3').first<{ status: string }>())!.status).toBe('active');

    const usage = await api('/api/taxonomy/tags/3/usage');
    expect(usage.body).toMatchObject({ holders: 1, rules: [{ id: 11, inDraft: false, inPublished: true }], children: [] });
  });

  it('retires a tag only drafts use, keeps its holders and history, and restores it', async () => {
    await insertRule(
      12,
      '草稿规则',
      graph([purchaseTrigger, { id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has', value: 2 } }]),
    );
    // one contact holds it: the API asks for a confirmation naming the tag and the count, and writes nothing
    const unconfirmed = await post('/api/taxonomy/tags/2/retire', {});
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.body.error).toMatchObject({
      code: 'confirmation_required',
      details: [
        { path: 'confirm.count', message: '1' },
        { path: 'confirm.object', message: '沉睡客户' },
      ],
    });
    expect((await post('/api/taxonomy/tags/2/retire', { confirm: { count: 2 } })).body.error.code).toBe('confirmation_required');
    expect(await all('SELECT status FROM tags WHERE id = 2')).toEqual([{ status: 'active' }]);
    const retired = await post('/api/taxonomy/tags/2/retire', { confirm: { count: 1 } });
    expect(retired.status).toBe(200);
    expect(retired.body).toMatchObject({ status: 'retired', retiredAt: expect.any(Number) });
    expect(await all('SELECT contact_id FROM contact_tags WHERE tag_id = 2')).toEqual([{ contact_id: 4 }]);
    expect((await post('/api/taxonomy/tags/2/retire', { confirm: { count: 1 } })).status).toBe(409);
    // a retired tag cannot be added by hand
    expect((await post('/api/contacts/2/tags', { add: [2] })).status).toBe(409);

    const restored = await post('/api/taxonomy/tags/2/restore', {});
    expect(restored.body).toMatchObject({ status: 'active', retiredAt: null });
    expect((await all('SELECT action FROM audit_log ORDER BY id')).map((r) => r.action)).toEqual(['tag.retire', 'tag.restore']);
  });

  it('refuses to retire a parent whose children are active', async () => {
    const { status, body } = await post('/api/taxonomy/tags/4/retire', {});
    expect(status).toBe(409);
    expect(body.error.message).toContain('抗老');
  });

  it('proposes tags not applied for the configured period, never the recently applied', async () => {
    await db.batch([
      db.prepare('UPDATE tags SET created_at = ?, last_applied_at = ?').bind(NOW - 400 * DAY, Date.now() - 1 * DAY),
      db.prepare('UPDATE tags SET last_applied_at = ? WHERE id = 2').bind(Date.now() - 200 * DAY),
      db.prepare('UPDATE tags SET last_applied_at = NULL WHERE id = 5'),
    ]);
    const { body } = await api('/api/taxonomy/retirement-proposals');
    expect(body.map((p: any) => [p.tag.id, p.groupName])).toEqual([
      [5, '兴趣偏好'],
      [2, '生命周期'],
    ]);
    expect(body[1].idleDays).toBeGreaterThanOrEqual(199);
  });
});

describe('merge', () => {
  it('moves holders through the writer, rewrites rule drafts, retires the source and records all of it', async () => {
    const draft = graph([
      { ...purchaseTrigger, trigger: { type: 'event', eventType: 'purchase', filters: [{ field: 'tags', op: 'lacks', value: 5 }] } },
      { id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has_any', value: [5, 3] } },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 5 } },
    ]);
    await insertRule(21, '抗老人群', draft);
    await db
      .prepare(`INSERT INTO segments (id, name, graph, logic, created_at, updated_at) VALUES (31, '抗老关注', ?, ?, ?, ?)`)
      .bind(
        graph([{ id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has', value: 5 } }]),
        JSON.stringify({ sf_has_tag: [5] }),
        NOW,
        NOW,
      )
      .run();

    // 抗老 (5, held by contact 1) into 美妆 (3, held by contact 5)
    const unconfirmed = await post('/api/taxonomy/tags/5/merge', { intoTagId: 3 });
    expect(unconfirmed.body.error).toMatchObject({
      code: 'confirmation_required',
      details: [
        { path: 'confirm.count', message: '1' },
        { path: 'confirm.object', message: '抗老' },
      ],
    });
    expect(await all('SELECT count(*) AS n FROM tag_ledger')).toEqual([{ n: 0 }]);
    const { status, body } = await post('/api/taxonomy/tags/5/merge', { intoTagId: 3, confirm: { count: 1 } });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      movedHolders: 1,
      from: { id: 5, status: 'retired' },
      into: { id: 3, status: 'active' },
      rulesRewritten: [{ id: 21, name: '抗老人群', places: 3 }],
      segmentsRewritten: [{ id: 31, places: 1 }],
    });
    expect(await all('SELECT contact_id, tag_id FROM contact_tags WHERE tag_id IN (3, 5) ORDER BY contact_id')).toEqual([
      { contact_id: 1, tag_id: 3 },
      { contact_id: 5, tag_id: 3 },
    ]);
    expect(await all('SELECT contact_id, tag_id, op, source, batch_id FROM tag_ledger ORDER BY id')).toEqual([
      { contact_id: 1, tag_id: 3, op: 'add', source: 'merge', batch_id: body.batchId },
      { contact_id: 1, tag_id: 5, op: 'remove', source: 'merge', batch_id: body.batchId },
    ]);

    const rule = await db.prepare('SELECT draft_graph FROM rules WHERE id = 21').first<{ draft_graph: string }>();
    const nodes = JSON.parse(rule!.draft_graph).nodes;
    expect(nodes[0].trigger.filters[0].value).toBe(3);
    expect(nodes[1].condition.value).toEqual([3]);
    expect(nodes[2].action.tagId).toBe(3);
    const segment = await db.prepare('SELECT logic FROM segments WHERE id = 31').first<{ logic: string }>();
    expect(JSON.parse(segment!.logic)).toEqual({ sf_has_tag: [3] });

    const audit = await all('SELECT action, object_type, object_id FROM audit_log ORDER BY id');
    expect(audit).toEqual([
      { action: 'rule.update', object_type: 'rule', object_id: '21' },
      { action: 'segment.update', object_type: 'segment', object_id: '31' },
      { action: 'tag.merge', object_type: 'tag', object_id: '5' },
    ]);
  });

  it('merging within an exclusive group leaves each holder with exactly the target', async () => {
    const { status } = await post('/api/taxonomy/tags/2/merge', { intoTagId: 1, confirm: { count: 1 } });
    expect(status).toBe(200);
    expect(await all('SELECT tag_id FROM contact_tags WHERE contact_id = 4')).toEqual([{ tag_id: 1 }]);
  });

  it('refuses while a published rule uses the source, and into a retired tag or itself', async () => {
    await insertRule(
      22,
      '沉睡召回',
      graph([purchaseTrigger]),
      graph([purchaseTrigger, { id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has', value: 2 } }]),
    );
    const published = await post('/api/taxonomy/tags/2/merge', { intoTagId: 1 });
    expect(published.status).toBe(409);
    expect(published.body.error.message).toContain('沉睡召回');
    expect(await all('SELECT id FROM tag_ledger')).toEqual([]);
    expect((await post('/api/taxonomy/tags/3/merge', { intoTagId: 6 })).status).toBe(409);
    expect((await post('/api/taxonomy/tags/3/merge', { intoTagId: 3 })).status).toBe(400);
    expect((await post('/api/taxonomy/tags/3/merge', { intoTagId: 99 })).status).toBe(400);
  });
});
