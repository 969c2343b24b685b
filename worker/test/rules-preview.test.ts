import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import { ID_ORDERED_COLUMNS } from '@shared/rules/preview-counts';
import type { RuleGraph, RuleNode } from '@shared/rules/types';
import { countWhere, runPreview, sampleMatches } from '../src/rules/preview';

const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
const TODAY = 20527;
const ctx = { now: NOW, tzOffsetMinutes: 480 };
// A scope keeps these counts independent of rows other test files might add to this D1.
const scope = { sql: 'c.id BETWEEN ? AND ?', params: [700_001, 700_010] };

function compiled(g: RuleGraph): CompiledRule {
  const r = compileRule(g);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

beforeAll(async () => {
  const db = env.DB;
  const contact = (id: number, spend: number, region: string | null) =>
    db
      .prepare(
        "INSERT INTO contacts (id, kind, external_id, name, bucket, created_at, updated_at, total_spend, region) VALUES (?, 'friend', ?, ?, 0, 0, 0, ?, ?)",
      )
      .bind(id, `pv-${id}`, `联系人${id}`, spend, region);
  await db.batch([
    db.prepare("INSERT INTO tag_groups (id, name) VALUES (800001, '预览')"),
    db.prepare("INSERT INTO tags (id, group_id, name) VALUES (800001, 800001, '高价值客户')"),
    // 10 contacts: ids 1–4 spend ≥ ¥1,000; ids 1, 2 and 9 already hold 高价值客户.
    ...Array.from({ length: 10 }, (_x, i) => contact(700_001 + i, i < 4 ? 200_000 : 1_000, i % 2 === 0 ? '广东' : null)),
    ...[700_001, 700_002, 700_009].map((id) =>
      db.prepare("INSERT INTO contact_tags (contact_id, tag_id, source, added_at) VALUES (?, 800001, 'manual', 0)").bind(id),
    ),
    db.prepare("INSERT INTO contact_daily_stats (contact_id, type, day, count, amount) VALUES (700001, 'message', ?, 3, 0)").bind(TODAY),
  ]);
});

const t: RuleNode = { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } };
const big: RuleNode = { id: 'big', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 100_000 } };
const gd: RuleNode = { id: 'gd', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } };

describe('runPreview', () => {
  it('counts the total, every node, and who would gain the tag or hold it without matching (and keep it)', async () => {
    const rule = compiled({
      schemaVersion: 1,
      nodes: [t, big, gd, { id: 'add', kind: 'action', action: { type: 'add_tag', tagId: 800001 } }],
      edges: [
        { id: 'e1', source: 't', target: 'big' },
        { id: 'e2', source: 'big', target: 'gd', sourceHandle: 'yes' },
        { id: 'e3', source: 'gd', target: 'add', sourceHandle: 'yes' },
      ],
    });
    const r = await runPreview(env.DB, rule, ctx, { scope });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    // Big spenders 1–4; of those in 广东 (even index): 700001, 700003.
    expect(r.value).toMatchObject({ total: 10, matched: 2, nodes: { t: 10, big: 10, gd: 4, add: 2 } });
    // 700001 already holds it → gain 1 (700003); holders 700002 and 700009 do not match.
    expect(r.value.tags.get(800001)).toEqual({ gain: 1, lose: 0, kept: 2 });
    expect(r.value.rowsRead).toBeGreaterThan(0);
  });

  it('counts who would lose the tag for a remove action, on the no branch', async () => {
    const rule = compiled({
      schemaVersion: 1,
      nodes: [t, big, { id: 'rm', kind: 'action', action: { type: 'remove_tag', tagId: 800001 } }],
      edges: [
        { id: 'e1', source: 't', target: 'big' },
        { id: 'e2', source: 'big', target: 'rm', sourceHandle: 'no' },
      ],
    });
    const r = await runPreview(env.DB, rule, ctx, { scope });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.value.matched).toBe(6);
    expect(r.value.tags.get(800001)).toEqual({ gain: 0, lose: 1 }); // 700009 holds it and is not a big spender
    expect(r.value.edges).toEqual({ e1: 10, e2: 6 });
  });

  it('assumes the trigger event and its keyword tests hold in a preview, and evaluates them when an event is given', async () => {
    const rule = compiled({
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } },
        { id: 'kw', kind: 'condition', condition: { field: 'trigger.text', op: 'contains_any', value: ['退款'] } },
        { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 800001 } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'kw' },
        { id: 'e2', source: 'kw', target: 'a', sourceHandle: 'yes' },
      ],
    });
    const preview = await runPreview(env.DB, rule, ctx, { scope });
    const withEvent = await runPreview(env.DB, rule, { ...ctx, event: { type: 'message', text: '你好' } }, { scope });
    if (!preview.ok || !withEvent.ok) throw new Error('preview failed');
    expect(preview.value.matched).toBe(10);
    expect(withEvent.value.matched).toBe(0);
  });

  it('returns a sample of matching contacts, lowest ids first', async () => {
    const rule = compiled({
      schemaVersion: 1,
      nodes: [t, big, { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 800001 } }],
      edges: [
        { id: 'e1', source: 't', target: 'big' },
        { id: 'e2', source: 'big', target: 'a', sourceHandle: 'yes' },
      ],
    });
    const r = await sampleMatches(env.DB, rule, ctx, 3, { scope });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.value).toEqual([
      { id: 700_001, name: '联系人700001' },
      { id: 700_002, name: '联系人700002' },
      { id: 700_003, name: '联系人700003' },
    ]);
  });

  it('refuses a rule that would need more than 100 bound parameters, with an error instead of a D1 failure', async () => {
    const nodes: RuleNode[] = [t];
    const edges = [];
    for (let i = 0; i < 60; i++) {
      nodes.push({ id: `c${i}`, kind: 'condition', condition: { field: 'totalSpend', op: 'between', value: [i, i + 1_000_000] } });
      edges.push({ id: `e${i}`, source: i === 0 ? 't' : `c${i - 1}`, target: `c${i}`, ...(i === 0 ? {} : { sourceHandle: 'yes' }) });
    }
    nodes.push({ id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 800001 } });
    edges.push({ id: 'ea', source: 'c59', target: 'a', sourceHandle: 'yes' });
    const r = await runPreview(env.DB, compiled({ schemaVersion: 1, nodes, edges }), ctx, { scope });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.code).toBe('too_many_parameters');
  });
});

describe('deep rules', () => {
  const chain = (n: number): RuleGraph => {
    const nodes: RuleNode[] = [t];
    const edges = [];
    for (let i = 0; i < n; i++) {
      nodes.push({ id: `c${i}`, kind: 'condition', condition: { field: i % 2 ? 'remark' : 'city', op: 'is_empty' } });
      edges.push({ id: `e${i}`, source: i === 0 ? 't' : `c${i - 1}`, target: `c${i}`, ...(i === 0 ? {} : { sourceHandle: 'yes' }) });
    }
    nodes.push({ id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 800001 } });
    edges.push({ id: 'ea', source: `c${n - 1}`, target: 'a', sourceHandle: 'yes' });
    return { schemaVersion: 1, nodes, edges };
  };

  it('runs a chain of 60 conditions, deeper than D1’s expression-depth limit of 100 would allow unbalanced', async () => {
    const rule = compiled(chain(60));
    const r = await runPreview(env.DB, rule, ctx, { scope });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.value.matched).toBe(10);
    expect(await countWhere(env.DB, rule.nodeLogic.a ?? false, ctx, scope)).toEqual({ ok: true, value: 10 });
  });

  it('shares one parameter slot between repeated values, so 140 bound values fit in D1’s 100', async () => {
    const g = chain(70);
    for (const n of g.nodes) if (n.kind === 'condition') n.condition = { field: 'totalSpend', op: 'between', value: [0, 1_000_000_000] };
    const r = await runPreview(env.DB, compiled(g), ctx, { scope });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.value.matched).toBe(10);
  });

  it('refuses a rule whose preview statement would exceed D1’s 100 KB, with an error instead of SQLITE_TOOBIG', async () => {
    const r = await runPreview(env.DB, compiled(chain(150)), ctx, { scope });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.code).toBe('too_complex');
  });
});

describe('countWhere', () => {
  it('counts a segment predicate within a scope', async () => {
    const r = await countWhere(env.DB, { sf_gte: [{ sf_agg: ['message', 'count', 7, null] }, 3] }, ctx, scope);
    expect(r).toEqual({ ok: true, value: 1 });
  });
});

describe('the preview’s assumptions about the schema', () => {
  it('has an index of its own on every column the held-tag merge takes as id-ordered', async () => {
    // `c.col = ?` reads such an index in (col, id) order: ids sorted, as the merge needs.
    const rows = await env.DB.prepare(
      "SELECT il.name AS idx, group_concat(ii.name) AS cols FROM pragma_index_list('contacts') il JOIN pragma_index_info(il.name) ii GROUP BY il.name",
    ).all<{ idx: string; cols: string }>();
    const single = new Set(rows.results.map((r) => r.cols));
    for (const col of ID_ORDERED_COLUMNS) expect(single.has(col), col).toBe(true);
  });
});
