/**
 * Publishing an event-triggered rule: a rule that reads its triggering event (a message keyword)
 * must not tag anyone at publish — nobody has sent that message yet — while an event-triggered
 * rule about contact state alone is applied now, exactly as previewed.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { expectedOf, type PublishResponse, type RuleDetail, type RulePreviewOk, type RulePreviewResponse } from '@shared/api/rules';
import type { ConditionSpec, RuleGraph } from '@shared/rules/types';
import { api } from './fixtures';

const db = env.DB;
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
let vip = 0;

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 300, seed: 5, now: Date.now(), avgEvents: 12 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  vip = (await db.prepare(`SELECT id FROM tags WHERE name = 'VIP'`).first<{ id: number }>())!.id;
});

/** On a message: `cond` → yes → add VIP. */
function onMessage(cond: ConditionSpec): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } },
      { id: 'c', kind: 'condition', condition: cond },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: vip } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    ],
  };
}

async function previewAndPublish(name: string, g: RuleGraph): Promise<{ preview: RulePreviewOk; published: PublishResponse }> {
  const created = await api<RuleDetail>('/api/rules', json({ name, graph: g }));
  expect(created.status).toBe(201);
  const p = await api<RulePreviewResponse>(
    '/api/rules/preview',
    json({ graph: g, ruleId: created.body.id, rolloutPercent: 100, sampleSize: 0 }),
  );
  if (!p.body.ok) throw new Error(JSON.stringify(p.body.errors));
  const res = await api<PublishResponse>(
    `/api/rules/${created.body.id}/publish`,
    json({ rolloutPercent: 100, graphHash: p.body.graphHash, expected: expectedOf(p.body.counts), confirm: true }),
  );
  expect(res.status).toBe(200);
  return { preview: p.body, published: res.body };
}

const holders = async () =>
  (await db.prepare('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?').bind(vip).first<{ n: number }>())!.n;

describe('publishing an event-triggered rule', () => {
  it('tags nobody now when the rule reads the triggering message, and says so in the preview', async () => {
    const before = await holders();
    const { preview, published } = await previewAndPublish(
      '关键词',
      onMessage({ field: 'trigger.text', op: 'contains_any', value: ['价格'] }),
    );
    expect(preview.appliesNow).toBe(false);
    // the preview still says who would be tagged at their next message
    expect(preview.counts.tags[0]!.gain).toBeGreaterThan(0);
    expect(await holders()).toBe(before);
    expect(published.rule.status).toBe('published');
    const ledger = await db
      .prepare('SELECT count(*) AS n FROM tag_ledger WHERE rule_id = ?')
      .bind(published.rule.id)
      .first<{ n: number }>();
    expect(ledger!.n).toBe(0);
  });

  it('applies now, exactly as previewed, when the rule reads only contact state', async () => {
    const before = await holders();
    const { preview } = await previewAndPublish('消费', onMessage({ field: 'totalSpend', op: 'gte', value: 50_000 }));
    expect(preview.appliesNow).toBe(true);
    const gain = preview.counts.tags[0]!.gain;
    expect(gain).toBeGreaterThan(0);
    expect(await holders()).toBe(before + gain);
  });
});
