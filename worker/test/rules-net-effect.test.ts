/**
 * A rule acting on one contact writes the NET change of all its actions (docs/rules.md, "What a
 * rule does to a contact"): the three cases an outside review found broken — an add and a remove
 * of one tag, two adds into one exclusive group, score bands into an exclusive group — previewed,
 * published and compared with what D1 holds afterwards, and the same rule on the webhook path.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { GROUP_MEMBER_BANDS, groupMemberScoreGraph } from '@shared/demo/rule-graphs';
import {
  expectedOf,
  type PublishResponse,
  type RuleDetail,
  type RulePreviewOk,
  type RulePreviewResponse,
  type TagCounts,
} from '@shared/api/rules';
import type { ConditionSpec, RuleGraph, RuleNode } from '@shared/rules/types';
import { api, untilStored, webhookSignature } from './fixtures';

const db = env.DB;
const SECRET = 'net-effect-secret';
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const tag: Record<string, number> = {};

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 1000, seed: 31, now: Date.now(), avgEvents: 12 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  const rows = await db.prepare('SELECT id, name FROM tags').all<{ id: number; name: string }>();
  for (const r of rows.results) tag[r.name] = r.id;
  await db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('net', 'CRM', 'generic', ?)`).bind(SECRET).run();
});

const count = async (sql: string, ...params: unknown[]) =>
  (await db
    .prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;
const net = (c: { tags: TagCounts[] }, tagId: number | undefined) => c.tags.find((t) => t.tagId === tagId) ?? { tagId, gain: 0, lose: 0 };

/** Schedule → one condition per action, each straight from the trigger. */
function fanOut(actions: { cond: ConditionSpec; type: 'add_tag' | 'remove_tag'; tagId: number }[], trigger?: RuleNode): RuleGraph {
  const nodes: RuleNode[] = [trigger ?? { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } }];
  const edges: RuleGraph['edges'] = [];
  actions.forEach((a, i) => {
    nodes.push(
      { id: `c${i + 1}`, kind: 'condition', condition: a.cond },
      { id: `a${i + 1}`, kind: 'action', action: { type: a.type, tagId: a.tagId } },
    );
    edges.push(
      { id: `e${i}a`, source: 't', target: `c${i + 1}` },
      { id: `e${i}b`, source: `c${i + 1}`, target: `a${i + 1}`, sourceHandle: 'yes' },
    );
  });
  return { schemaVersion: 1, nodes, edges };
}

async function previewOf(g: RuleGraph, name: string): Promise<{ rule: RuleDetail; p: RulePreviewOk }> {
  const created = await api<RuleDetail>('/api/rules', json({ name, graph: g }));
  expect(created.status).toBe(201);
  const r = await api<RulePreviewResponse>(
    '/api/rules/preview',
    json({ graph: g, ruleId: created.body.id, rolloutPercent: 100, sampleSize: 0 }),
  );
  if (!r.body.ok) throw new Error(JSON.stringify(r.body.errors));
  return { rule: created.body, p: r.body };
}

/** Every (contact, tag) pair, to diff before and after a publish. */
async function holdings(): Promise<Set<string>> {
  const rows = await db.prepare('SELECT contact_id, tag_id FROM contact_tags').all<{ contact_id: number; tag_id: number }>();
  return new Set(rows.results.map((r) => `${r.contact_id}|${r.tag_id}`));
}

/** Per tag: rows gained and lost between two holdings. */
function diff(before: Set<string>, after: Set<string>): Record<number, { gain: number; lose: number }> {
  const out: Record<number, { gain: number; lose: number }> = {};
  const bump = (k: string, key: 'gain' | 'lose') => {
    const t = Number(k.split('|')[1]);
    (out[t] ??= { gain: 0, lose: 0 })[key]++;
  };
  for (const k of after) if (!before.has(k)) bump(k, 'gain');
  for (const k of before) if (!after.has(k)) bump(k, 'lose');
  return out;
}

/** Publishes with exactly the preview's per-tag counts; returns what changed in D1. */
async function publishAndDiff(rule: RuleDetail, p: RulePreviewOk) {
  const before = await holdings();
  const r = await api<PublishResponse>(
    `/api/rules/${rule.id}/publish`,
    json({ rolloutPercent: 100, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true }),
  );
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const changed = diff(before, await holdings());
  const batch = `publish:${rule.id}:${r.body.version}`;
  const twice = await count(
    'SELECT count(*) AS n FROM (SELECT contact_id, tag_id FROM tag_ledger WHERE batch_id = ? GROUP BY contact_id, tag_id HAVING count(*) > 1)',
    batch,
  );
  return { published: r.body, changed, twice };
}

/** The preview's per-tag counts as the diff reports them (tags that change nothing left out). */
const previewed = (p: RulePreviewOk) =>
  Object.fromEntries(p.counts.tags.filter((t) => t.gain || t.lose).map((t) => [t.tagId, { gain: t.gain, lose: t.lose }]));

describe('one net change per contact: preview = publish = D1', () => {
  it('adds and removes of one tag: removal wins, counted once, no add-then-remove ledger rows', async () => {
    const follow = tag['待跟进']!;
    const g = fanOut([
      { cond: { field: 'messageCount', op: 'gte', value: 5 }, type: 'add_tag', tagId: follow },
      { cond: { field: 'purchaseCount', op: 'gte', value: 1 }, type: 'remove_tag', tagId: follow },
    ]);
    const { rule, p } = await previewOf(g, '加减同一标签');
    const both = await count('SELECT count(*) AS n FROM contacts WHERE message_count >= 5 AND purchase_count >= 1');
    const gain = await count(
      'SELECT count(*) AS n FROM contacts c WHERE message_count >= 5 AND NOT purchase_count >= 1 AND NOT EXISTS (SELECT 1 FROM contact_tags WHERE contact_id = c.id AND tag_id = ?)',
      follow,
    );
    const lose = await count(
      'SELECT count(*) AS n FROM contacts c WHERE purchase_count >= 1 AND EXISTS (SELECT 1 FROM contact_tags WHERE contact_id = c.id AND tag_id = ?)',
      follow,
    );
    // the demo must exercise the overlap: contacts both add and remove reach, some holding VIP
    expect(both).toBeGreaterThan(0);
    expect(lose).toBeGreaterThan(0);
    expect(net(p.counts, follow)).toMatchObject({ gain, lose });
    expect(p.counts.conflicts).toEqual([{ kind: 'add_remove', nodeIds: ['a1', 'a2'], winner: 'a2', contacts: both }]);

    const { published, changed, twice } = await publishAndDiff(rule, p);
    expect(changed).toEqual(previewed(p));
    expect(net(published.applied, follow)).toMatchObject({ gain, lose });
    expect(twice).toBe(0);
    // nobody both conditions reach holds the tag afterwards
    expect(
      await count(
        'SELECT count(*) AS n FROM contacts c JOIN contact_tags ct ON ct.contact_id = c.id AND ct.tag_id = ? WHERE message_count >= 5 AND purchase_count >= 1',
        follow,
      ),
    ).toBe(0);
  });

  it('two adds into one exclusive group: the first action’s tag wins, nobody loses it and gets it back', async () => {
    const active = tag['活跃客户']!;
    const fresh = tag['新客']!;
    const g = fanOut([
      { cond: { field: 'messageCount', op: 'gte', value: 30 }, type: 'add_tag', tagId: active },
      { cond: { field: 'lastPurchaseAt', op: 'within_last_days', value: 30 }, type: 'add_tag', tagId: fresh },
    ]);
    const { rule, p } = await previewOf(g, '同组两个打标');
    const since = Date.now() - 40 * 86_400_000;
    const both = await count('SELECT count(*) AS n FROM contacts WHERE message_count >= 30 AND last_purchase_at >= ?', since);
    expect(both).toBeGreaterThan(0);
    expect(p.counts.conflicts).toHaveLength(1);
    expect(p.counts.conflicts[0]).toMatchObject({ kind: 'exclusive', nodeIds: ['a1', 'a2'], winner: 'a1' });
    expect(p.counts.conflicts[0]!.contacts).toBeGreaterThan(0);
    // displaced lifecycle tags are in the confirmation too
    expect(p.counts.tags.some((t) => t.tagId !== active && t.tagId !== fresh && t.lose > 0)).toBe(true);

    const { changed, twice } = await publishAndDiff(rule, p);
    expect(changed).toEqual(previewed(p));
    expect(twice).toBe(0);
    // whoever both reach holds 活跃客户, not 新客
    const reachedBoth = 'SELECT id FROM contacts WHERE message_count >= 30 AND last_purchase_at >= ?';
    expect(await count(`SELECT count(*) AS n FROM contact_tags WHERE tag_id = ? AND contact_id IN (${reachedBoth})`, fresh, since)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM contact_tags WHERE tag_id = ? AND contact_id IN (${reachedBoth})`, active, since)).toBe(
      both,
    );
  });

  it('score bands into an exclusive group: displaced band tags are counted as lost, and nobody is said to keep a tag they lose', async () => {
    const bands = GROUP_MEMBER_BANDS.map((n) => tag[n]!);
    const g = groupMemberScoreGraph(bands);
    const { rule, p } = await previewOf(g, '群成员评分');
    const holders = await count(`SELECT count(*) AS n FROM contact_tags WHERE tag_id IN (${bands.join(',')})`);
    const lost = p.counts.tags.reduce((n, t) => n + t.lose, 0);
    expect(holders).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(0);
    // every contact is in one band, so every holder either keeps their band's tag or loses it
    for (const t of p.counts.tags) expect(t.kept ?? 0).toBe(0);
    expect(p.counts.conflicts.every((c) => c.contacts === 0)).toBe(true);

    const { changed, twice } = await publishAndDiff(rule, p);
    expect(changed).toEqual(previewed(p));
    expect(twice).toBe(0);
    // afterwards each contact holds exactly one band tag
    expect(
      await count(
        `SELECT count(*) AS n FROM (SELECT contact_id FROM contact_tags WHERE tag_id IN (${bands.join(',')}) GROUP BY contact_id HAVING count(*) > 1)`,
      ),
    ).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM contact_tags WHERE tag_id IN (${bands.join(',')})`)).toBe(
      await count('SELECT count(*) AS n FROM contacts'),
    );
  });
});

const sign = (ts: string, body: string) => webhookSignature(SECRET, ts, body);

describe('the webhook path writes the same net change', () => {
  it('a contact two exclusive adds reach on an event gets the first one only', async () => {
    const active = tag['活跃客户']!;
    const fresh = tag['新客']!;
    const lifecycle = (
      await db.prepare("SELECT t.id FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE g.name = '生命周期'").all<{ id: number }>()
    ).results.map((r) => r.id);
    const g = fanOut(
      [
        { cond: { field: 'purchaseCount', op: 'gte', value: 1 }, type: 'add_tag', tagId: active },
        { cond: { field: 'totalSpend', op: 'gte', value: 1 }, type: 'add_tag', tagId: fresh },
      ],
      { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'purchase', filters: [] } },
    );
    const { rule, p } = await previewOf(g, '购买时的生命周期');
    await publishAndDiff(rule, p);
    // someone neither condition reaches yet: no purchase, no spend
    const c = await db
      .prepare('SELECT id, external_id FROM contacts WHERE purchase_count = 0 AND total_spend = 0 ORDER BY id LIMIT 1')
      .first<{ id: number; external_id: string }>();
    expect(c).not.toBeNull();
    const eventId = `net-${crypto.randomUUID()}`;
    const body = JSON.stringify({
      events: [
        {
          id: eventId,
          type: 'purchase',
          occurredAt: Date.now(),
          amount: 9900,
          contact: { externalId: c!.external_id },
        },
      ],
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await exports.default.fetch(
      new Request('http://segflow.test/api/webhooks/net', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'X-Segflow-Timestamp': ts, 'X-Segflow-Signature': await sign(ts, body) },
        body,
      }),
    );
    expect(res.status).toBe(202);
    await untilStored('net', [eventId]);
    const held = (
      await db
        .prepare(`SELECT tag_id FROM contact_tags WHERE contact_id = ? AND tag_id IN (${lifecycle.join(',')})`)
        .bind(c!.id)
        .all<{ tag_id: number }>()
    ).results;
    expect(held.map((h) => h.tag_id)).toEqual([active]);
    const ledger = await db
      .prepare("SELECT tag_id, op FROM tag_ledger WHERE contact_id = ? AND rule_id = ? AND batch_id NOT LIKE 'publish:%' ORDER BY id")
      .bind(c!.id, rule.id)
      .all<{ tag_id: number; op: string }>();
    // 新客 was never added (a 新客 held before is displaced, once); 活跃客户 added once
    expect(ledger.results.filter((l) => l.tag_id === fresh && l.op === 'add')).toEqual([]);
    expect(ledger.results.filter((l) => l.tag_id === active)).toEqual([{ tag_id: active, op: 'add' }]);
  });
});
