/**
 * The rules API over demo data: catalog, CRUD, validation, lifecycle, preview counts checked
 * against SQL written by hand here, explanations. Publishing is in rules-api-publish.test.ts.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { dayNumber } from '@shared/time';
import { rolloutOffset } from '@shared/rollout';
import type { FieldCatalogResponse, RuleDetail, RuleListResponse, RulePreviewResponse, RuleExplainResponse } from '@shared/api/rules';
import type { RuleGraph } from '@shared/rules/types';
import { api } from './fixtures';

const db = env.DB;
const NOW = Date.now();
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

let highValueTag = 0;
let potentialTag = 0;

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 400, seed: 11, now: NOW, avgEvents: 12 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  highValueTag = (await db.prepare("SELECT id FROM tags WHERE name = '高价值客户'").first<{ id: number }>())!.id;
  potentialTag = (await db.prepare("SELECT id FROM tags WHERE name = '潜力客户'").first<{ id: number }>())!.id;
});

/** Schedule → "spend in the last 30 days ≥ ¥1,000" → yes: 广东? → add 高价值客户; no: remove 潜力客户. */
function spendGraph(): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' }, position: { x: 0, y: 0 } },
      {
        id: 'big',
        kind: 'condition',
        condition: { field: 'event.amount', op: 'gte', value: 100_000, params: { eventType: 'purchase', days: 30 } },
      },
      { id: 'gd', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } },
      { id: 'add', kind: 'action', action: { type: 'add_tag', tagId: highValueTag } },
      { id: 'rm', kind: 'action', action: { type: 'remove_tag', tagId: potentialTag } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'big' },
      { id: 'e2', source: 'big', target: 'gd', sourceHandle: 'yes' },
      { id: 'e3', source: 'gd', target: 'add', sourceHandle: 'yes' },
      { id: 'e4', source: 'big', target: 'rm', sourceHandle: 'no' },
    ],
  };
}

/** Independent counts: plain SQL over the demo rows, written without the rule compiler. */
async function handCounts(share?: { ruleId: number; percent: number }) {
  const today = dayNumber(NOW, 480);
  const spend = `(SELECT COALESCE(SUM(s.amount), 0) FROM contact_daily_stats s
                  WHERE s.contact_id = c.id AND s.type = 'purchase' AND s.day BETWEEN ${today - 29} AND ${today})`;
  const inShare = share ? `((c.bucket + ${rolloutOffset(share.ruleId)}) % 10000) < ${share.percent * 100}` : '1';
  const holds = (tag: number) => `EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = ${tag})`;
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS total,
              SUM(${spend} >= 100000) AS big,
              SUM(${spend} >= 100000 AND c.region = '广东') AS add_,
              SUM(${spend} >= 100000 AND c.region = '广东' AND NOT ${holds(highValueTag)}) AS gain,
              SUM(NOT (${spend} >= 100000)) AS rm,
              SUM(NOT (${spend} >= 100000) AND ${holds(potentialTag)}) AS lose
       FROM contacts c WHERE ${inShare}`,
    )
    .first<{ total: number; big: number; add_: number; gain: number; rm: number; lose: number }>();
  return row!;
}

async function createRule(name: string, graph?: RuleGraph): Promise<RuleDetail> {
  const r = await api<RuleDetail>('/api/rules', json({ name, ...(graph ? { graph } : {}) }));
  expect(r.status).toBe(201);
  return r.body;
}

describe('GET /api/field-catalog', () => {
  it('lists built-in and declared custom fields with their operators and value inputs, event types and tags', async () => {
    const { status, body } = await api<FieldCatalogResponse>('/api/field-catalog');
    expect(status).toBe(200);
    const spend = body.fields.find((f) => f.key === 'totalSpend');
    expect(spend).toMatchObject({ type: 'number', money: true, origin: 'builtin', eventScoped: false });
    expect(spend?.operators).toContainEqual({ op: 'gte', value: 'scalar' });
    expect(spend?.operators).toContainEqual({ op: 'between', value: 'range' });
    expect(body.fields.find((f) => f.key === 'event.amount')).toMatchObject({ type: 'aggregate', needsParams: true, money: true });
    expect(body.fields.find((f) => f.key === 'trigger.text')).toMatchObject({ eventScoped: true, type: 'keyword' });
    const customCount = (await db.prepare('SELECT COUNT(*) AS n FROM custom_fields').first<{ n: number }>())!.n;
    expect(customCount).toBeGreaterThan(0);
    expect(body.fields.filter((f) => f.origin === 'custom')).toHaveLength(customCount);
    expect(body.fields.filter((f) => f.origin === 'custom').every((f) => f.key.startsWith('custom.'))).toBe(true);
    expect(body.eventTypes).toContain('purchase');
    expect(body.tags.find((t) => t.id === highValueTag)).toMatchObject({
      name: '高价值客户',
      groupName: '价值分层',
      groupExclusive: true,
      status: 'active',
    });
    expect(body.tags.some((t) => t.status === 'retired')).toBe(true);
    // wrangler.toml's TIMEZONE, for a schedule's next runs in the editor
    expect(body.timezone).toEqual({ name: 'Asia/Shanghai', offsetMinutes: 480 });
  });
});

describe('rules CRUD and validation', () => {
  it('creates a draft with an empty graph whose errors say what is missing, and audits it', async () => {
    const rule = await createRule('空规则');
    expect(rule).toMatchObject({
      name: '空规则',
      status: 'draft',
      publishedVersion: null,
      latestVersion: null,
      versions: [],
      draftChanged: true,
    });
    expect(rule.draftGraph).toEqual({ schemaVersion: 1, nodes: [], edges: [] });
    expect(rule.errors.map((e) => e.code).sort()).toEqual(['no_actions', 'no_trigger']);
    expect(rule.draftHash).toMatch(/^[0-9a-f]{64}$/);
    const audit = await db
      .prepare("SELECT action, summary, after FROM audit_log WHERE object_type = 'rule' AND object_id = ?")
      .bind(String(rule.id))
      .all<{ action: string; summary: string; after: string }>();
    expect(audit.results).toHaveLength(1);
    expect(audit.results[0]).toMatchObject({ action: 'rule.create' });
    expect(JSON.parse(audit.results[0]!.after).name).toBe('空规则');
  });

  it('refuses unknown fields, bad names and malformed graphs with a 400 naming them', async () => {
    const unknown = await api('/api/rules', json({ name: 'x', colour: 'red' }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'invalid_request', details: [{ path: 'colour', message: 'unknown field' }] });
    const empty = await api('/api/rules', json({ name: '  ' }));
    expect(empty.status).toBe(400);
    expect(empty.body.error.details[0].path).toBe('name');
    const graph = await api('/api/rules', json({ name: 'x', graph: { nodes: 'no' } }));
    expect(graph.status).toBe(400);
    expect(graph.body.error.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['graph.schemaVersion', 'graph.nodes', 'graph.edges']),
    );
    const badJson = await api('/api/rules', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('invalid_request');
  });

  it('validates ids in paths (400) and answers 404 for unknown rules and versions', async () => {
    expect((await api('/api/rules/abc')).status).toBe(400);
    expect((await api('/api/rules/0')).status).toBe(400);
    const missing = await api('/api/rules/999999');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await api('/api/rules/999999/draft', json({ graph: spendGraph() }, 'PUT'))).status).toBe(404);
    expect((await api('/api/rules/999999/pause', { method: 'POST' })).status).toBe(404);
    const rule = await createRule('无版本');
    expect((await api(`/api/rules/${rule.id}/versions/1`)).status).toBe(404);
    expect((await api(`/api/rules/${rule.id}/versions/x`)).status).toBe(400);
    expect((await api(`/api/rules/${rule.id}/compare?a=1&b=draft`)).status).toBe(404);
    expect((await api(`/api/rules/${rule.id}/compare?a=draft`)).status).toBe(400);
  });

  it('saves an invalid draft and returns the compiler errors pinned to node ids', async () => {
    const rule = await createRule('半成品');
    const g = spendGraph();
    (g.nodes[2] as { condition: { value?: unknown } }).condition.value = undefined;
    g.nodes.push({ id: 'lonely', kind: 'condition', condition: { field: 'city', op: 'eq', value: '深圳' } });
    const saved = await api<RuleDetail>(`/api/rules/${rule.id}/draft`, json({ graph: g, name: '半成品 v2' }, 'PUT'));
    expect(saved.status).toBe(200);
    expect(saved.body.name).toBe('半成品 v2');
    expect(saved.body.draftGraph.nodes).toHaveLength(6);
    expect(saved.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ nodeId: 'gd', code: 'missing_value' }),
        expect.objectContaining({ nodeId: 'lonely', code: 'unreachable' }),
      ]),
    );
    const again = await api<RuleDetail>(`/api/rules/${rule.id}`);
    expect(again.body.draftHash).toBe(saved.body.draftHash);
  });

  it('duplicates a rule as a new draft with the same graph', async () => {
    const rule = await createRule('原规则', spendGraph());
    const copy = await api<RuleDetail>(`/api/rules/${rule.id}/duplicate`, { method: 'POST' });
    expect(copy.status).toBe(201);
    expect(copy.body).toMatchObject({ name: '原规则（副本）', status: 'draft' });
    expect(copy.body.id).not.toBe(rule.id);
    expect(copy.body.draftHash).toBe(rule.draftHash);
    const named = await api<RuleDetail>(`/api/rules/${rule.id}/duplicate`, json({ name: '另一个' }));
    expect(named.body.name).toBe('另一个');
  });

  it('refuses illegal state changes with 409 and allows archiving a draft, after which it is read-only', async () => {
    const rule = await createRule('状态机', spendGraph());
    const pause = await api(`/api/rules/${rule.id}/pause`, { method: 'POST' });
    expect(pause.status).toBe(409);
    expect(pause.body.error.message).toContain('it is draft');
    expect((await api(`/api/rules/${rule.id}/resume`, { method: 'POST' })).status).toBe(409);
    expect((await api(`/api/rules/${rule.id}/pause`, json({ force: true }))).status).toBe(400);
    const archived = await api<RuleDetail>(`/api/rules/${rule.id}/archive`, json({}));
    expect(archived.status).toBe(200);
    expect(archived.body.status).toBe('archived');
    expect((await api(`/api/rules/${rule.id}/archive`, { method: 'POST' })).status).toBe(409);
    expect((await api(`/api/rules/${rule.id}/draft`, json({ graph: spendGraph() }, 'PUT'))).status).toBe(409);
    const actions = await db
      .prepare("SELECT action FROM audit_log WHERE object_type = 'rule' AND object_id = ? ORDER BY id")
      .bind(String(rule.id))
      .all<{ action: string }>();
    expect(actions.results.map((a) => a.action)).toEqual(['rule.create', 'rule.archive']);
  });

  it('lists rules newest first, hides archived ones unless asked, and filters by status and name', async () => {
    const a = await createRule('列表-甲', spendGraph());
    const b = await createRule('列表-乙');
    await api(`/api/rules/${b.id}/archive`, { method: 'POST' });
    const list = await api<RuleListResponse>('/api/rules?q=列表-&pageSize=100');
    expect(list.status).toBe(200);
    expect(list.body.items.map((r) => r.id)).toEqual([a.id]);
    expect(list.body.items[0]).toMatchObject({
      status: 'draft',
      trigger: 'schedule',
      publishedVersion: null,
      matchesAtPublish: null,
      rolloutPercent: null,
    });
    const archived = await api<RuleListResponse>('/api/rules?status=archived&q=列表-');
    expect(archived.body.items.map((r) => r.id)).toEqual([b.id]);
    const all = await api<RuleListResponse>('/api/rules?includeArchived=1&q=列表-');
    expect(all.body.total).toBe(2);
    expect((await api('/api/rules?status=live')).status).toBe(400);
    expect((await api('/api/rules?sort=name')).body.error.details[0]).toEqual({ path: 'sort', message: 'unknown parameter' });
  });
});

describe('POST /api/rules/preview', () => {
  it('counts every node, gain and lose exactly as SQL written by hand does, with a sample of matching contacts', async () => {
    const hand = await handCounts();
    expect(hand.add_).toBeGreaterThan(0); // the demo data must exercise the path
    expect(hand.rm).toBeGreaterThan(0);
    const { status, body } = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: spendGraph(), sampleSize: 5 }));
    expect(status).toBe(200);
    if (!body.ok) throw new Error(JSON.stringify(body.errors));
    expect(body.rolloutPercent).toBe(100);
    expect(body.counts).toMatchObject({
      total: hand.total,
      matched: hand.add_ + hand.rm,
      nodes: { t: hand.total, big: hand.total, gd: hand.big, add: hand.add_, rm: hand.rm },
      edges: { e1: hand.total, e2: hand.big, e3: hand.add_, e4: hand.rm },
    });
    expect(body.counts.actions.add).toEqual({ type: 'add_tag', tagId: highValueTag });
    expect(body.counts.actions.rm).toEqual({ type: 'remove_tag', tagId: potentialTag });
    expect(body.counts.tags.find((t) => t.tagId === highValueTag)).toMatchObject({ gain: hand.gain, lose: 0 });
    expect(body.counts.tags.find((t) => t.tagId === potentialTag)).toEqual({ tagId: potentialTag, gain: 0, lose: hand.lose });
    expect(body.sample.length).toBe(Math.min(5, hand.add_ + hand.rm));
    expect(body.sample[0]).toHaveProperty('tags');
    expect(body.sample.map((s) => s.id)).toEqual([...body.sample.map((s) => s.id)].sort((x, y) => x - y));
    expect(body.logic).toHaveProperty('merge');
    expect(body.graphHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('counts for the rollout share of the rule when given one', async () => {
    const rule = await createRule('灰度预览', spendGraph());
    const hand = await handCounts({ ruleId: rule.id, percent: 20 });
    const { body } = await api<RulePreviewResponse>(
      '/api/rules/preview',
      json({ graph: spendGraph(), rolloutPercent: 20, ruleId: rule.id, sampleSize: 0 }),
    );
    if (!body.ok) throw new Error(JSON.stringify(body.errors));
    expect(body.counts.total).toBe(hand.total);
    expect(body.counts.total).toBeLessThan((await handCounts()).total);
    expect(body.counts.nodes).toMatchObject({ gd: hand.big, add: hand.add_, rm: hand.rm });
    expect(body.counts.tags.find((t) => t.tagId === highValueTag)?.gain).toBe(hand.gain);
    expect(body.counts.tags.find((t) => t.tagId === potentialTag)?.lose).toBe(hand.lose);
    expect(body.sample).toEqual([]);
  });

  it('ignores node positions in the graph hash, but not content', async () => {
    const g1 = spendGraph();
    const g2 = spendGraph();
    g2.nodes[0]!.position = { x: 500, y: 80 };
    const g3 = spendGraph();
    (g3.nodes[1] as { condition: { value: number } }).condition.value = 100_001;
    const hash = async (g: RuleGraph) =>
      ((await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g, sampleSize: 0 }))).body as { graphHash: string }).graphHash;
    expect(await hash(g2)).toBe(await hash(g1));
    expect(await hash(g3)).not.toBe(await hash(g1));
  });

  it('answers 200 with errors pinned to nodes for a graph that does not compile', async () => {
    const g = spendGraph();
    g.nodes[1] = { id: 'big', kind: 'condition', condition: { field: 'totalSpend', op: 'contains', value: 'x' } };
    const { status, body } = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: false, errors: [{ nodeId: 'big', code: 'bad_operator' }] });
    const retired = (await db.prepare("SELECT id FROM tags WHERE status = 'retired'").first<{ id: number }>())!.id;
    const g2 = spendGraph();
    g2.nodes[3] = { id: 'add', kind: 'action', action: { type: 'add_tag', tagId: retired } };
    const r2 = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g2 }));
    expect(r2.body).toMatchObject({ ok: false, errors: [{ nodeId: 'add', code: 'unknown_tag' }] });
  });

  it('refuses bad bodies with 400: a share out of range, an unknown rule, unknown fields', async () => {
    const share = await api('/api/rules/preview', json({ graph: spendGraph(), rolloutPercent: 0 }));
    expect(share.status).toBe(400);
    expect(share.body.error.details[0].path).toBe('rolloutPercent');
    expect((await api('/api/rules/preview', json({ graph: spendGraph(), rolloutPercent: 12.5 }))).status).toBe(400);
    const rule = await api('/api/rules/preview', json({ graph: spendGraph(), ruleId: 999999 }));
    expect(rule.status).toBe(400);
    expect(rule.body.error.code).toBe('unknown_reference');
    expect((await api('/api/rules/preview', json({ graph: spendGraph(), extra: 1 }))).body.error.details[0]).toEqual({
      path: 'extra',
      message: 'unknown field',
    });
    expect((await api('/api/rules/preview', json({}))).status).toBe(400);
  });
});

describe('POST /api/rules/explain', () => {
  it('explains, for one contact, each condition with its value and whether it held', async () => {
    const preview = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: spendGraph(), sampleSize: 100 }));
    if (!preview.body.ok) throw new Error('preview failed');
    const big = await db
      .prepare(
        `SELECT c.id FROM contacts c WHERE c.region = '广东' AND (SELECT COALESCE(SUM(s.amount), 0) FROM contact_daily_stats s
         WHERE s.contact_id = c.id AND s.type = 'purchase' AND s.day >= ?) >= 100000 LIMIT 1`,
      )
      .bind(dayNumber(NOW, 480) - 29)
      .first<{ id: number }>();
    const { status, body } = await api<RuleExplainResponse>('/api/rules/explain', json({ graph: spendGraph(), contactId: big!.id }));
    expect(status).toBe(200);
    if (!body.ok) throw new Error(JSON.stringify(body.errors));
    expect(body.contact.id).toBe(big!.id);
    expect(body.explanation.fired).toEqual(['add']);
    expect(body.explanation.reached).toMatchObject({ t: true, big: true, gd: true, add: true, rm: false });
    const spend = body.explanation.conditions.find((c) => c.nodeId === 'big');
    expect(spend).toMatchObject({ held: true, field: 'event.amount' });
    expect(spend?.text.zh).toContain('✓');
    expect(body.assumedNodeIds).toEqual([]);
  });

  it('assumes the triggering event holds for event rules, as the preview does', async () => {
    const g = spendGraph();
    g.nodes[0] = {
      id: 't',
      kind: 'trigger',
      trigger: { type: 'event', eventType: 'message', filters: [{ field: 'trigger.text', op: 'contains_any', value: ['价格'] }] },
    };
    // never purchased: "spend in the last 30 days" is false whatever the clock says (explain counts from now)
    const contact = (await db
      .prepare("SELECT id FROM contacts WHERE region <> '广东' AND purchase_count = 0 ORDER BY id LIMIT 1")
      .first<{ id: number }>())!.id;
    const { body } = await api<RuleExplainResponse>('/api/rules/explain', json({ graph: g, contactId: contact }));
    if (!body.ok) throw new Error(JSON.stringify(body.errors));
    expect(body.assumedNodeIds).toEqual(['t']);
    expect(body.explanation.reached.t).toBe(true);
    expect(body.explanation.fired).toEqual(['rm']);
  });

  it('refuses an unknown contact with 400 naming contactId', async () => {
    const r = await api('/api/rules/explain', json({ graph: spendGraph(), contactId: 99_999_999 }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'unknown_reference', details: [{ path: 'contactId' }] });
  });
});
