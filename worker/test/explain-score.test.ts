import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { dayNumber } from '@shared/time';
import type { RuleExplainResponse, RulePreviewResponse } from '@shared/api/rules';
import { api, seedSmallWorld } from './fixtures';

/**
 * The why-dialog of a score (issue 18): each factor's value read from D1 (an event aggregate's
 * window loaded for the score, not only for conditions), weight and contribution, the total, and
 * the band with its tag; the preview counts each band as the explanations place the contacts.
 */
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const today = dayNumber(Date.now(), 480);

beforeAll(async () => {
  await seedSmallWorld();
  await env.DB.batch([
    env.DB.prepare('update contacts set message_count = 60, invite_count = 1, violation_count = 2 where id = 1'),
    env.DB.prepare('update contacts set message_count = 30, invite_count = 0, violation_count = 0 where id = 2'),
    env.DB.prepare(
      `insert into contact_daily_stats (contact_id, type, day, count, amount) values (1, 'article_open', ?, 4, 0), (1, 'article_open', ?, 9, 0)`,
    ).bind(today - 2, today - 45),
  ]);
});

// group 1 (生命周期) is exclusive: 活跃客户 for 50 and up, 沉睡客户 below
const graph = {
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
    {
      id: 'b',
      kind: 'band',
      metrics: [
        { field: 'messageCount', weight: 50, cap: 60 },
        { field: 'event.count', params: { eventType: 'article_open', days: 30 }, weight: 40, cap: 5 },
        { field: 'violationCount', weight: -10, cap: 2 },
      ],
      bands: [
        { id: 'hi', min: 50, max: null, tagId: 1 },
        { id: 'lo', min: -10, max: 50, tagId: 2 },
      ],
    },
  ],
  edges: [{ id: 'e1', source: 't', target: 'b' }],
};

describe('why-dialog of a band node', () => {
  it('gives each factor its value, weight and contribution, the total and the band with its tag', async () => {
    const res = await api<RuleExplainResponse>('/api/rules/explain', json({ graph, contactId: 1 }));
    expect(res.status).toBe(200);
    if (!res.body.ok) throw new Error(JSON.stringify(res.body.errors));
    const d = res.body.explanation.scoreDetails.b!;
    // 60 of 60 messages: 50; 4 article opens in 30 days (the 9 of 45 days ago fall outside): 32; 2 violations: −10
    expect(d.factors.map((f) => [f.value, f.weight, f.contribution])).toEqual([
      [60, 50, 50],
      [4, 40, 32],
      [2, -10, -10],
    ]);
    expect(d.factors[1]!.label).toEqual({ zh: '近30天打开文章次数', en: 'Article open count in the last 30 days' });
    expect(d.total).toBe(72);
    expect(d.band).toEqual({ id: 'hi', min: 50, max: null, tagId: 1 });
    expect(res.body.explanation.fired).toEqual(['b:hi']);
    // the band's tag is gained unless already held
    const holds = await env.DB.prepare('select 1 from contact_tags where contact_id = 1 and tag_id = 1').first();
    expect(res.body.change.gain).toEqual(holds ? [] : [1]);
  });

  it('counts in the preview each band as the explanations place the contacts', async () => {
    const preview = await api<RulePreviewResponse>('/api/rules/preview', json({ graph, sampleSize: 0 }));
    if (!preview.body.ok) throw new Error(JSON.stringify(preview.body.errors));
    const ids = (await env.DB.prepare('select id from contacts order by id').all<{ id: number }>()).results.map((r) => r.id);
    const placed = { hi: 0, lo: 0 };
    for (const id of ids) {
      const r = await api<RuleExplainResponse>('/api/rules/explain', json({ graph, contactId: id }));
      if (!r.body.ok) throw new Error('not ok');
      const band = r.body.explanation.scoreDetails.b!.band?.id as 'hi' | 'lo' | undefined;
      if (band) placed[band]++;
    }
    expect(placed.hi).toBeGreaterThan(0);
    expect(placed.lo).toBeGreaterThan(0);
    expect({ hi: preview.body.counts.nodes['b:hi'], lo: preview.body.counts.nodes['b:lo'] }).toEqual(placed);
  });
});
