/**
 * Publishing over demo data: what the preview said is what publishing writes (contact_tags rows
 * and ledger rows naming the rule and version), at 100% and within a 20% share; refusals when the
 * confirmation is stale; versions, restore and compare.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { inRollout } from '@shared/rollout';
import {
  expectedOf,
  type TagCounts,
  type CompareResponse,
  type PublishResponse,
  type RuleDetail,
  type RuleListResponse,
  type RulePreviewOk,
  type RulePreviewResponse,
  type RuleVersionDetail,
  type RuleVersionSummary,
} from '@shared/api/rules';
import type { ConditionSpec, RuleGraph } from '@shared/rules/types';
import { api, ROOT } from './fixtures';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const tag: Record<string, number> = {};

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 500, seed: 23, now: Date.now(), avgEvents: 12 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  for (const name of ['活跃客户', '沉睡客户', '流失客户', '新客', 'VIP', '待跟进']) {
    tag[name] = (await db.prepare('SELECT id FROM tags WHERE name = ?').bind(name).first<{ id: number }>())!.id;
  }
});

const spend30 = (fen: number): ConditionSpec => ({
  field: 'event.amount',
  op: 'gte',
  value: fen,
  params: { eventType: 'purchase', days: 30 },
});
const lifetimeSpend = (fen: number): ConditionSpec => ({ field: 'totalSpend', op: 'gte', value: fen });

/** Schedule → `cond` → yes: [广东? →] add `addTag`; no → remove `removeTag`. */
function graph(addTag: number, removeTag: number, cond: ConditionSpec = spend30(100_000), opts: { region?: boolean } = {}): RuleGraph {
  const region = opts.region ?? true;
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'big', kind: 'condition', condition: cond },
      ...(region ? [{ id: 'gd', kind: 'condition' as const, condition: { field: 'region', op: 'eq', value: '广东' } }] : []),
      { id: 'add', kind: 'action', action: { type: 'add_tag', tagId: addTag } },
      { id: 'rm', kind: 'action', action: { type: 'remove_tag', tagId: removeTag } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'big' },
      ...(region
        ? [
            { id: 'e2', source: 'big', target: 'gd', sourceHandle: 'yes' },
            { id: 'e3', source: 'gd', target: 'add', sourceHandle: 'yes' },
          ]
        : [{ id: 'e2', source: 'big', target: 'add', sourceHandle: 'yes' }]),
      { id: 'e4', source: 'big', target: 'rm', sourceHandle: 'no' },
    ],
  };
}

async function createRule(name: string, g: RuleGraph): Promise<RuleDetail> {
  const r = await api<RuleDetail>('/api/rules', json({ name, graph: g }));
  expect(r.status).toBe(201);
  return r.body;
}

async function preview(ruleId: number, g: RuleGraph, rolloutPercent = 100): Promise<RulePreviewOk> {
  const r = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g, ruleId, rolloutPercent, sampleSize: 0 }));
  expect(r.status).toBe(200);
  if (!r.body.ok) throw new Error(JSON.stringify(r.body.errors));
  return r.body;
}

function publishBody(p: RulePreviewOk, extra: Record<string, unknown> = {}) {
  return { rolloutPercent: p.rolloutPercent, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true, ...extra };
}

/** The net change of one tag in a preview's counts or a publish's applied counts (zeros when absent). */
const net = (c: { tags: TagCounts[] }, tagId: number | undefined): TagCounts =>
  c.tags.find((t) => t.tagId === tagId) ?? { tagId: tagId ?? 0, gain: 0, lose: 0 };

const count = async (sql: string, ...params: unknown[]) =>
  (await db
    .prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

describe('publish applies exactly what the preview counted', () => {
  it('at 100%: new contact_tags rows = gain, removed rows = lose, ledger rows carry the rule id and version', async () => {
    // 活跃客户 is in the exclusive 生命周期 group: adding it displaces 新客 / 沉睡客户 / 流失客户.
    const g = graph(tag['活跃客户']!, tag['待跟进']!, { field: 'lastActiveAt', op: 'within_last_days', value: 30 }, { region: false });
    const rule = await createRule('活跃客户（30天）', g);
    const p = await preview(rule.id, g);
    const gain = net(p.counts, tag['活跃客户']).gain;
    const lose = net(p.counts, tag['待跟进']).lose;
    // displaced: the other tags of 生命周期 the active contacts lose
    const displaced = ['新客', '沉睡客户', '流失客户'].reduce((n, name) => n + net(p.counts, tag[name]).lose, 0);
    expect(gain).toBeGreaterThan(0);
    expect(lose).toBeGreaterThan(0);
    expect(displaced).toBeGreaterThan(0);
    const holdersBefore = await count('SELECT COUNT(*) AS n FROM contact_tags WHERE tag_id = ?', tag['活跃客户']);
    const newBefore = await count('SELECT COUNT(*) AS n FROM contact_tags WHERE tag_id = ?', tag['新客']);

    const r = await api<PublishResponse>(`/api/rules/${rule.id}/publish`, json(publishBody(p, { note: '首次发布' })));
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(1);
    expect(r.body.applied).toMatchObject({ rolloutPercent: 100, total: p.counts.total, matched: p.counts.matched });
    expect(r.body.applied.tags).toEqual(expect.arrayContaining(p.counts.tags.map((t) => ({ tagId: t.tagId, gain: t.gain, lose: t.lose }))));
    expect(r.body.applied.tags).toHaveLength(p.counts.tags.length);

    // The rows themselves, counted independently of the API.
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM contact_tags WHERE tag_id = ? AND source = 'rule' AND rule_id = ? AND rule_version = 1",
        tag['活跃客户'],
        rule.id,
      ),
    ).toBe(gain);
    expect(await count('SELECT COUNT(*) AS n FROM contact_tags WHERE tag_id = ?', tag['活跃客户'])).toBe(holdersBefore + gain);
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM tag_ledger WHERE tag_id = ? AND op = 'add' AND source = 'rule' AND rule_id = ? AND rule_version = 1",
        tag['活跃客户'],
        rule.id,
      ),
    ).toBe(gain);
    // 新客 is displaced by 活跃客户 for the active contacts holding it, and nobody else.
    const displacedNew = await count(
      "SELECT COUNT(*) AS n FROM tag_ledger l JOIN contact_tags ct ON ct.contact_id = l.contact_id AND ct.tag_id = ? WHERE l.tag_id = ? AND l.op = 'remove' AND l.rule_id = ?",
      tag['活跃客户'],
      tag['新客'],
      rule.id,
    );
    expect(await count('SELECT COUNT(*) AS n FROM contact_tags WHERE tag_id = ?', tag['新客'])).toBe(newBefore - displacedNew);
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM tag_ledger WHERE tag_id = ? AND op = 'remove' AND rule_id = ? AND rule_version = 1",
        tag['待跟进'],
        rule.id,
      ),
    ).toBe(lose);
    expect(await count("SELECT COUNT(*) AS n FROM tag_ledger WHERE op = 'remove' AND rule_id = ? AND rule_version = 1", rule.id)).toBe(
      lose + displaced,
    );
    expect(await count('SELECT COUNT(*) AS n FROM tag_apply_targets')).toBe(0);

    // Published: a second preview finds nothing left to change.
    const after = await preview(rule.id, g);
    expect(after.counts.tags.every((t) => t.gain === 0 && t.lose === 0)).toBe(true);
    expect(after.counts.matched).toBe(p.counts.matched);

    expect(r.body.rule).toMatchObject({
      status: 'published',
      publishedVersion: 1,
      latestVersion: 1,
      rolloutPercent: 100,
      matchesAtPublish: p.counts.matched,
      draftChanged: false,
      trigger: 'schedule',
    });
    expect(r.body.rule.lastPublishedAt).toBeTypeOf('number');
    expect(r.body.rule.versions).toHaveLength(1);
    expect(r.body.rule.versions[0]).toMatchObject({
      version: 1,
      current: true,
      note: '首次发布',
      trigger: 'schedule',
      rolloutPercent: 100,
      createdBy: { id: ROOT.id, name: '测试用户9001' },
    });
    const stored = await db
      .prepare('SELECT trigger, rollout_percent, published_at, logic FROM rule_versions WHERE rule_id = ?')
      .bind(rule.id)
      .first<Record<string, unknown>>();
    expect(stored).toMatchObject({ trigger: 'schedule', rollout_percent: 100 });
    expect(JSON.parse(stored!.logic as string)).toEqual(p.logic);
    const audit = await db
      .prepare("SELECT after FROM audit_log WHERE object_type = 'rule' AND object_id = ? AND action = 'rule.publish'")
      .bind(String(rule.id))
      .first<{ after: string }>();
    expect(JSON.parse(audit!.after)).toMatchObject({ version: 1, rolloutPercent: 100, graphHash: p.graphHash });

    const list = await api<RuleListResponse>(`/api/rules?q=${encodeURIComponent('活跃客户（30天）')}`);
    expect(list.body.items[0]).toMatchObject({ id: rule.id, status: 'published', matchesAtPublish: p.counts.matched, rolloutPercent: 100 });
  });

  it('at 20%: only contacts in the rule’s share change, exactly as many as the preview of that share said', async () => {
    const g = graph(tag['VIP']!, tag['待跟进']!, lifetimeSpend(20_000), { region: false });
    const rule = await createRule('VIP 灰度', g);
    const p = await preview(rule.id, g, 20);
    const full = await preview(rule.id, g, 100);
    expect(p.counts.total).toBeLessThan(full.counts.total);
    const gain = net(p.counts, tag['VIP']).gain;
    const lose = net(p.counts, tag['待跟进']).lose;
    expect(gain).toBeGreaterThan(0);
    expect(gain).toBeLessThan(net(full.counts, tag['VIP']).gain);

    const r = await api<PublishResponse>(`/api/rules/${rule.id}/publish`, json(publishBody(p)));
    expect(r.status).toBe(200);
    expect(net(r.body.applied, tag['VIP']).gain).toBe(gain);
    expect(net(r.body.applied, tag['待跟进']).lose).toBe(lose);
    const added = await db
      .prepare(
        'SELECT c.bucket FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE ct.tag_id = ? AND ct.rule_id = ? AND ct.rule_version = 1',
      )
      .bind(tag['VIP'], rule.id)
      .all<{ bucket: number }>();
    expect(added.results).toHaveLength(gain);
    expect(added.results.every((c) => inRollout(c.bucket, rule.id, 20))).toBe(true);
    const removed = await db
      .prepare(
        "SELECT c.bucket FROM tag_ledger l JOIN contacts c ON c.id = l.contact_id WHERE l.tag_id = ? AND l.op = 'remove' AND l.rule_id = ?",
      )
      .bind(tag['待跟进'], rule.id)
      .all<{ bucket: number }>();
    expect(removed.results).toHaveLength(lose);
    expect(removed.results.every((c) => inRollout(c.bucket, rule.id, 20))).toBe(true);
    expect(r.body.rule.rolloutPercent).toBe(20);

    // Widening to 100% adds the rest: the preview of 100% now counts only contacts outside the 20%.
    const rest = await preview(rule.id, g, 100);
    expect(net(rest.counts, tag['VIP']).gain).toBe(net(full.counts, tag['VIP']).gain - gain);
    const r2 = await api<PublishResponse>(`/api/rules/${rule.id}/publish`, json(publishBody(rest)));
    expect(r2.status).toBe(200);
    expect(r2.body.version).toBe(2);
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM tag_ledger WHERE tag_id = ? AND op = 'add' AND rule_id = ? AND rule_version = 2",
        tag['VIP'],
        rule.id,
      ),
    ).toBe(net(full.counts, tag['VIP']).gain - gain);
  });
});

describe('publish evaluates every action on the state the preview counted', () => {
  it('an action whose condition reads a tag another action adds still gets the previewed contacts', async () => {
    // a1 adds 意向代理 to recent buyers; a2 adds 待跟进 to everyone WITHOUT 意向代理. Applied one after
    // the other on live state, a2 would skip the contacts a1 just tagged; the preview counts both on
    // today's state, and so does publishing.
    const agent = (await db.prepare("SELECT id FROM tags WHERE name = '意向代理'").first<{ id: number }>())!.id;
    const g: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 * * * *' } },
        { id: 'buyer', kind: 'condition', condition: spend30(1) },
        { id: 'noAgent', kind: 'condition', condition: { field: 'tags', op: 'lacks', value: agent } },
        { id: 'a1', kind: 'action', action: { type: 'add_tag', tagId: agent } },
        { id: 'a2', kind: 'action', action: { type: 'add_tag', tagId: tag['待跟进']! } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'buyer' },
        { id: 'e2', source: 'buyer', target: 'a1', sourceHandle: 'yes' },
        { id: 'e3', source: 't', target: 'noAgent' },
        { id: 'e4', source: 'noAgent', target: 'a2', sourceHandle: 'yes' },
      ],
    };
    const rule = await createRule('互相依赖的动作', g);
    const p = await preview(rule.id, g);
    expect(net(p.counts, agent).gain).toBeGreaterThan(0);
    const r = await api<PublishResponse>(`/api/rules/${rule.id}/publish`, json(publishBody(p)));
    expect(r.status).toBe(200);
    expect(net(r.body.applied, agent).gain).toBe(net(p.counts, agent).gain);
    expect(net(r.body.applied, tag['待跟进']).gain).toBe(net(p.counts, tag['待跟进']).gain);
    expect(await count('SELECT COUNT(*) AS n FROM contact_tags WHERE tag_id = ? AND rule_id = ?', tag['待跟进'], rule.id)).toBe(
      net(p.counts, tag['待跟进']).gain,
    );
  });
});

describe('publish refuses what the user did not see', () => {
  it('409 when the draft changed since the preview, and writes nothing', async () => {
    const g = graph(tag['VIP']!, tag['待跟进']!, lifetimeSpend(5_000));
    const rule = await createRule('过期确认', g);
    const p = await preview(rule.id, g);
    const changed = graph(tag['VIP']!, tag['待跟进']!, lifetimeSpend(6_000));
    expect((await api(`/api/rules/${rule.id}/draft`, json({ graph: changed }, 'PUT'))).status).toBe(200);
    const ledgerBefore = await count('SELECT COUNT(*) AS n FROM tag_ledger');
    const r = await api(`/api/rules/${rule.id}/publish`, json(publishBody(p)));
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'conflict', details: [{ path: 'graphHash' }] });
    expect(r.body.error.message).toContain('draft changed');
    expect(await count('SELECT COUNT(*) AS n FROM tag_ledger')).toBe(ledgerBefore);
    expect(await count('SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ?', rule.id)).toBe(0);
    expect((await api<RuleDetail>(`/api/rules/${rule.id}`)).body.status).toBe('draft');
  });

  it('409 naming the tag when the confirmed counts are not what publishing would write', async () => {
    const g = graph(tag['VIP']!, tag['待跟进']!, lifetimeSpend(10_000), { region: false });
    const rule = await createRule('计数不符', g);
    const p = await preview(rule.id, g);
    const vip = net(p.counts, tag['VIP']);
    expect(vip.gain).toBeGreaterThan(0);
    const body = publishBody(p);
    body.expected[String(tag['VIP'])] = { gain: vip.gain + 1, lose: vip.lose };
    const r = await api(`/api/rules/${rule.id}/publish`, json(body));
    expect(r.status).toBe(409);
    expect(r.body.error.details).toEqual([
      { path: `expected.${tag['VIP']}.gain`, message: expect.stringContaining(`would now add it to ${vip.gain}`) },
    ]);
    const missing = publishBody(p);
    delete missing.expected[String(tag['待跟进'])];
    expect((await api(`/api/rules/${rule.id}/publish`, json(missing))).body.error.details[0].path).toBe(`expected.${tag['待跟进']}`);
    const stranger = publishBody(p);
    stranger.expected[String(tag['新客'])] = { gain: 0, lose: 0 };
    expect((await api(`/api/rules/${rule.id}/publish`, json(stranger))).body.error.details[0]).toEqual({
      path: `expected.${tag['新客']}`,
      message: 'is not a tag this publish changes',
    });
    // Counts are checked at the share being published: counts confirmed for 100% do not match 50%.
    const other = await api(`/api/rules/${rule.id}/publish`, json({ ...publishBody(p), rolloutPercent: 50 }));
    expect(other.status).toBe(409);
    expect(await count('SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ?', rule.id)).toBe(0);
  });

  it('422 on the trigger when the schedule is not a cron expression the cron can run; nothing is published', async () => {
    const g = graph(tag['VIP']!, tag['待跟进']!);
    (g.nodes[0] as { trigger: { cron: string } }).trigger.cron = '0 25 * * *';
    const rule = await createRule('每天 25 点', g);
    expect(rule.errors).toEqual([expect.objectContaining({ nodeId: 't', code: 'bad_schedule', message: expect.stringMatching(/hour/) })]);
    const r = await api(
      `/api/rules/${rule.id}/publish`,
      json({ rolloutPercent: 100, graphHash: rule.draftHash, expected: {}, confirm: true }),
    );
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid_rule', details: [{ path: 't' }] });
    expect(await count('SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ?', rule.id)).toBe(0);
  });

  it('422 with errors pinned to nodes when the draft does not compile; 400 without confirm', async () => {
    const g = graph(tag['VIP']!, tag['待跟进']!);
    (g.nodes[2] as { condition: { op: string } }).condition.op = 'gte';
    const rule = await createRule('无效草稿', g);
    const r = await api(
      `/api/rules/${rule.id}/publish`,
      json({ rolloutPercent: 100, graphHash: rule.draftHash, expected: {}, confirm: true }),
    );
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid_rule', details: [{ path: 'gd' }] });
    const noConfirm = await api(`/api/rules/${rule.id}/publish`, json({ rolloutPercent: 100, graphHash: rule.draftHash, expected: {} }));
    expect(noConfirm.status).toBe(400);
    expect(noConfirm.body.error.details[0].path).toBe('confirm');
    const badShare = await api(
      `/api/rules/${rule.id}/publish`,
      json({ rolloutPercent: 101, graphHash: rule.draftHash, expected: {}, confirm: true }),
    );
    expect(badShare.body.error.details[0].path).toBe('rolloutPercent');
  });
});

describe('lifecycle, versions, restore and compare of a published rule', () => {
  it('pauses and resumes a published rule, keeps versions with who/when, restores one as the draft and compares', async () => {
    const v1 = graph(tag['VIP']!, tag['待跟进']!, spend30(200_000));
    const rule = await createRule('版本史', v1);
    const p1 = await preview(rule.id, v1);
    expect((await api(`/api/rules/${rule.id}/publish`, json(publishBody(p1)))).status).toBe(200);

    const v2 = graph(tag['VIP']!, tag['待跟进']!, spend30(300_000));
    v2.nodes.push({ id: 'note', kind: 'condition', condition: { field: 'city', op: 'eq', value: '广州' } });
    v2.edges.push({ id: 'e9', source: 'big', target: 'note', sourceHandle: 'yes' });
    v2.nodes = v2.nodes.filter((n) => n.id !== 'gd');
    v2.edges = v2.edges.filter((e) => e.target !== 'gd' && e.source !== 'gd');
    v2.edges.push({ id: 'e10', source: 'note', target: 'add', sourceHandle: 'yes' });
    v2.nodes[0]!.position = { x: 10, y: 10 };
    const saved = await api<RuleDetail>(`/api/rules/${rule.id}/draft`, json({ graph: v2 }, 'PUT'));
    expect(saved.body).toMatchObject({ status: 'published', draftChanged: true, publishedVersion: 1 });
    const p2 = await preview(rule.id, v2);
    expect((await api(`/api/rules/${rule.id}/publish`, json(publishBody(p2)))).status).toBe(200);

    const paused = await api<RuleDetail>(`/api/rules/${rule.id}/pause`, { method: 'POST' });
    expect(paused.body.status).toBe('paused');
    expect((await api(`/api/rules/${rule.id}/pause`, { method: 'POST' })).status).toBe(409);
    expect((await api<RuleDetail>(`/api/rules/${rule.id}/resume`, { method: 'POST' })).body.status).toBe('published');

    const versions = await api<RuleVersionSummary[]>(`/api/rules/${rule.id}/versions`);
    expect(versions.body.map((v) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
    expect(versions.body[1]).toMatchObject({ createdBy: { id: ROOT.id }, rolloutPercent: 100 });
    expect(versions.body[1]!.publishedAt).toBeTypeOf('number');
    expect(net(versions.body[1]!.applied!, tag['VIP']).gain).toBe(net(p1.counts, tag['VIP']).gain);

    const one = await api<RuleVersionDetail>(`/api/rules/${rule.id}/versions/1`);
    expect(one.body).toMatchObject({ version: 1, ruleId: rule.id, current: false, triggerSpec: { type: 'schedule' } });
    expect(one.body.graph).toEqual(v1);

    const cmp = await api<CompareResponse>(`/api/rules/${rule.id}/compare?a=1&b=2`);
    expect(cmp.status).toBe(200);
    expect(cmp.body.diff).toMatchObject({ added: ['note'], removed: ['gd'], changed: ['big'], moved: ['t'] });
    expect(cmp.body.diff.edgesAdded.sort()).toEqual(['e10', 'e9']);
    expect(cmp.body.diff.edgesRemoved.sort()).toEqual(['e2', 'e3']);

    const restored = await api<RuleDetail>(`/api/rules/${rule.id}/versions/1/restore`, { method: 'POST' });
    expect(restored.status).toBe(200);
    expect(restored.body.draftGraph).toEqual(v1);
    expect(restored.body).toMatchObject({ status: 'published', publishedVersion: 2, draftChanged: true });
    const vsDraft = await api<CompareResponse>(`/api/rules/${rule.id}/compare?a=1&b=draft`);
    expect(vsDraft.body.diff).toMatchObject({ added: [], removed: [], changed: [], moved: [] });
    expect((await api(`/api/rules/${rule.id}/versions/9/restore`, { method: 'POST' })).status).toBe(404);

    const actions = await db
      .prepare("SELECT action FROM audit_log WHERE object_type = 'rule' AND object_id = ? ORDER BY id")
      .bind(String(rule.id))
      .all<{ action: string }>();
    expect(actions.results.map((a) => a.action)).toEqual([
      'rule.create',
      'rule.publish',
      'rule.save_draft',
      'rule.publish',
      'rule.pause',
      'rule.resume',
      'rule.restore_version',
    ]);

    expect((await api<RuleDetail>(`/api/rules/${rule.id}/archive`, { method: 'POST' })).body.status).toBe('archived');
    const again = await api(`/api/rules/${rule.id}/publish`, json(publishBody(p1)));
    expect(again.status).toBe(409);
    expect((await api(`/api/rules/${rule.id}/versions/1/restore`, { method: 'POST' })).status).toBe(409);
  });

  it('stores an event rule’s event type on its version, and applies it now as its preview assumed', async () => {
    const g = graph(tag['VIP']!, tag['待跟进']!, lifetimeSpend(1_000), { region: false });
    g.nodes[0] = { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'purchase', filters: [] } };
    const rule = await createRule('购买触发', g);
    const p = await preview(rule.id, g);
    const r = await api<PublishResponse>(`/api/rules/${rule.id}/publish`, json(publishBody(p)));
    expect(r.status).toBe(200);
    expect(r.body.rule.trigger).toBe('purchase');
    expect(await db.prepare('SELECT trigger FROM rule_versions WHERE rule_id = ?').bind(rule.id).first('trigger')).toBe('purchase');
    expect(net(r.body.applied, tag['VIP']).gain).toBe(net(p.counts, tag['VIP']).gain);
  });
});
