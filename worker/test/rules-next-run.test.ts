/**
 * The rules list says when the cron runs a published schedule rule next, in TIMEZONE
 * (wrangler.toml: Asia/Shanghai), and says nothing for drafts, paused rules and event rules.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { expectedOf, type RuleDetail, type RuleListResponse, type RulePreviewResponse } from '@shared/api/rules';
import type { RuleGraph, TriggerSpec } from '@shared/rules/types';
import { api } from './fixtures';

const db = env.DB;
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
let tagId = 0;

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 50, seed: 5, now: Date.now(), avgEvents: 2 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  tagId = (await db.prepare("SELECT id FROM tags WHERE name = '待跟进'").first<{ id: number }>())!.id;
});

const graph = (trigger: TriggerSpec): RuleGraph => ({
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger },
    { id: 'c', kind: 'condition', condition: { field: 'region', op: 'eq', value: '不存在的地区' } },
    { id: 'a', kind: 'action', action: { type: 'add_tag', tagId } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'c' },
    { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
  ],
});

async function published(name: string, trigger: TriggerSpec): Promise<number> {
  const g = graph(trigger);
  const rule = (await api<RuleDetail>('/api/rules', json({ name, graph: g }))).body;
  const p = (await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g, ruleId: rule.id, rolloutPercent: 100, sampleSize: 0 })))
    .body;
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const r = await api(
    `/api/rules/${rule.id}/publish`,
    json({ rolloutPercent: 100, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true }),
  );
  expect(r.status).toBe(200);
  return rule.id;
}

const listed = async (q: string) => (await api<RuleListResponse>(`/api/rules?q=${encodeURIComponent(q)}`)).body.items;

/** The next weekday 09:30 in Shanghai (UTC+8, no daylight saving) after `now`, worked out by hand. */
function nextWeekday0930(now: number): number {
  const day = 86_400_000;
  const shanghaiMidnight = Math.floor((now + 8 * 3_600_000) / day) * day - 8 * 3_600_000;
  for (let d = 0; d < 8; d++) {
    const at = shanghaiMidnight + d * day + (9 * 60 + 30) * 60_000;
    const weekday = new Date(at + 8 * 3_600_000).getUTCDay();
    if (at > now && weekday >= 1 && weekday <= 5) return at;
  }
  throw new Error('unreachable');
}

describe('GET /api/rules: next run', () => {
  it('gives a published schedule rule its next run in the configured zone, and none once it is paused', async () => {
    const id = await published('下次运行-工作日', { type: 'schedule', cron: '30 9 * * 1-5' });
    const before = Date.now();
    const [item] = await listed('下次运行-工作日');
    const after = Date.now();
    expect(item!.id).toBe(id);
    expect(item!.nextRun!.zone).toEqual({ name: 'Asia/Shanghai', offsetMinutes: 480 });
    // the list is read between `before` and `after`: its answer is one of the two hand-made ones
    expect([nextWeekday0930(before), nextWeekday0930(after)]).toContain(item!.nextRun!.at);

    expect((await api(`/api/rules/${id}/pause`, { method: 'POST' })).status).toBe(200);
    expect((await listed('下次运行-工作日'))[0]!.nextRun).toBeNull();
  });

  it('gives none to a draft, an event rule, or a schedule that never comes', async () => {
    await api('/api/rules', json({ name: '下次运行-草稿', graph: graph({ type: 'schedule', cron: '0 3 * * *' }) }));
    await published('下次运行-事件', { type: 'event', eventType: 'message', filters: [] });
    await published('下次运行-二月三十一', { type: 'schedule', cron: '0 0 31 2 *' });
    const items = await listed('下次运行-');
    const byName = new Map(items.map((i) => [i.name, i.nextRun]));
    expect(byName.get('下次运行-草稿')).toBeNull();
    expect(byName.get('下次运行-事件')).toBeNull();
    expect(byName.get('下次运行-二月三十一')).toBeNull();
  });
});
