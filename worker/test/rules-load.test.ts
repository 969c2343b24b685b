import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileRule } from '@shared/rules/compile';
import { compileRulePlan } from '@shared/rules/evaluate';
import { dataNeeds } from '@shared/rules/needs';
import type { RuleGraph } from '@shared/rules/types';
import { loadEvalData } from '../src/rules/load';
import { runPreview } from '../src/rules/preview';

const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
const TODAY = 20527;
const DAY = 86_400_000;
const TODAY_START = 1_773_504_000_000;
const IDS = [600_001, 600_002, 600_003];

beforeAll(async () => {
  const db = env.DB;
  const stmts: D1PreparedStatement[] = [
    db.prepare("INSERT INTO tag_groups (id, name) VALUES (600001, '加载')"),
    db.prepare("INSERT INTO tags (id, group_id, name) VALUES (600001, 600001, '复购')"),
  ];
  IDS.forEach((id, k) => {
    stmts.push(
      db
        .prepare(
          "INSERT INTO contacts (id, kind, external_id, name, bucket, created_at, updated_at, custom) VALUES (?, 'friend', ?, '加载测试', 0, 0, 0, ?)",
        )
        .bind(id, `load-${id}`, JSON.stringify({ points: k * 100 })),
    );
    // Purchases spread over 200 days: only the recent ones may count.
    for (let d = 0; d < 200; d += 7 + k) {
      stmts.push(
        db
          .prepare("INSERT INTO contact_daily_stats (contact_id, type, day, count, amount) VALUES (?, 'purchase', ?, 1, ?)")
          .bind(id, TODAY - d, 10_000 * (k + 1)),
      );
      stmts.push(
        db
          .prepare(
            "INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount, channel) VALUES ('load', ?, ?, 'purchase', ?, ?, ?, ?)",
          )
          .bind(`${id}-${d}`, id, TODAY_START - d * DAY + 1, TODAY_START, 10_000 * (k + 1), d % 2 === 0 ? '门店' : '小程序商城'),
      );
    }
  });
  stmts.push(db.prepare("INSERT INTO contact_tags (contact_id, tag_id, source, added_at) VALUES (600002, 600001, 'manual', 0)"));
  await db.batch(stmts);
});

const graph: RuleGraph = {
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
    { id: 'n', kind: 'condition', condition: { field: 'event.count', op: 'gte', value: 4, params: { eventType: 'purchase', days: 30 } } },
    {
      id: 's',
      kind: 'condition',
      condition: { field: 'event.amount', op: 'gte', value: 40_000, params: { eventType: 'purchase', days: 60, channel: '门店' } },
    },
    { id: 'p', kind: 'condition', condition: { field: 'custom.points', op: 'gt', value: 50 } },
    { id: 'h', kind: 'condition', condition: { field: 'tags', op: 'lacks', value: 600001 } },
    { id: 'a1', kind: 'action', action: { type: 'add_tag', tagId: 600001 } },
    { id: 'a2', kind: 'action', action: { type: 'add_tag', tagId: 600001 } },
    { id: 'a3', kind: 'action', action: { type: 'remove_tag', tagId: 600001 } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'n' },
    { id: 'e2', source: 'n', target: 'a1', sourceHandle: 'yes' },
    { id: 'e3', source: 't', target: 's' },
    { id: 'e4', source: 's', target: 'p', sourceHandle: 'yes' },
    { id: 'e5', source: 'p', target: 'a2', sourceHandle: 'yes' },
    { id: 'e6', source: 't', target: 'h' },
    { id: 'e7', source: 'h', target: 'a3', sourceHandle: 'no' },
  ],
};

describe('loadEvalData', () => {
  it('loads just the history the rule needs, and the plan evaluator then agrees with SQL contact by contact', async () => {
    const compiled = compileRule(graph, { customFields: [{ key: 'points', labelZh: '积分', labelEn: 'Points', type: 'number' }] });
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    const needs = dataNeeds([compiled.value]);
    expect(needs).toEqual({ statsDays: 30, eventsDays: 60 });
    const plan = compileRulePlan(compiled.value);
    const ctx = { now: NOW, tzOffsetMinutes: 480 };
    const firedSets: string[][] = [];
    for (const id of IDS) {
      const data = await loadEvalData(env.DB, id, { ...ctx, ...needs });
      if (!data) throw new Error('contact not found');
      // Only the window was loaded, not 200 days.
      expect(Math.min(...(data.stats ?? []).map((s) => s.day))).toBeGreaterThanOrEqual(TODAY - 29);
      const js = [...plan(data)].sort();
      const sql = await runPreview(env.DB, compiled.value, ctx, { scope: { sql: 'c.id = ?', params: [id] } });
      if (!sql.ok) throw new Error(JSON.stringify(sql.errors));
      const sqlFired = compiled.value.actions
        .filter((a) => sql.value.nodes[a.nodeId] === 1)
        .map((a) => a.nodeId)
        .sort();
      expect(js).toEqual(sqlFired);
      firedSets.push(js);
    }
    // The contacts differ, so the comparison above compared something.
    expect(new Set(firedSets.map((f) => f.join())).size).toBeGreaterThan(1);
  });

  it('returns null for a contact that does not exist', async () => {
    expect(await loadEvalData(env.DB, 1_234_567, { now: NOW, tzOffsetMinutes: 480, statsDays: 0, eventsDays: 0 })).toBeNull();
  });
});
