/**
 * Refitting a learned rule (issue 19) through the real API, queue and D1: a rule made from
 * "purchases within 30 days" is edited and published, re-learned on demand, and the refit's diff
 * against the published version is checked contact by contact with the JS evaluator over the
 * same demo rows (who would gain the tag, who the published version tags and the refit would
 * not); the diff's net change is the preview's (preview = publish); applying the refit makes it
 * the rule's draft and publishes nothing; the weekly cron queues a refit only when the fit is
 * over a week old. Also: the suggestion a rule was made from is found by the rule's id.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SuggestionDetail, SuggestionDiffResponse, SuggestionForRuleResponse } from '@shared/api/suggestions';
import { expectedOf, type RuleDetail, type RulePreviewResponse } from '@shared/api/rules';
import { compileRule } from '@shared/rules/compile';
import { compileRulePlan } from '@shared/rules/evaluate';
import type { ConditionNode, RuleGraph } from '@shared/rules/types';
import { api, eventually } from './fixtures';
import { loadDemoContacts, type DemoContacts } from './demo-contacts';
import { withTag } from '../src/learn/draft';
import { queueDueRefits } from '../src/learn/refit';
import { tzOffsetMinutes } from '../src/rules/context';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const PURCHASE_30 = { kind: 'future_event', eventType: 'purchase', days: 30 } as const;
const DAY = 86_400_000;

let demo: DemoContacts;
let tagId = 0;

async function finished(id: number): Promise<SuggestionDetail> {
  return eventually(
    `suggestion ${id} finished`,
    async () => {
      const r = await api<SuggestionDetail>(`/api/suggestions/${id}`);
      expect(r.status).toBe(200);
      return r.body.status === 'done' || r.body.status === 'failed' ? r.body : null;
    },
    120_000,
  );
}

async function publish(ruleId: number, graph: RuleGraph) {
  const p = await api<RulePreviewResponse>('/api/rules/preview', json({ graph, ruleId, rolloutPercent: 100, sampleSize: 0 }));
  expect(p.body.ok, JSON.stringify(p.body)).toBe(true);
  if (!p.body.ok) throw new Error('preview failed');
  const r = await api(
    `/api/rules/${ruleId}/publish`,
    json({ rolloutPercent: 100, graphHash: p.body.graphHash, expected: expectedOf(p.body.counts), confirm: true }),
  );
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** Contact ids whose evaluation fires an add-tag action of `graph`, by the JS closure evaluator. */
function tagged(graph: RuleGraph): Set<number> {
  const compiled = compileRule(graph);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  const plan = compileRulePlan(compiled.value);
  const adders = new Set(compiled.value.actions.filter((a) => a.action.type === 'add_tag').map((a) => a.nodeId));
  const out = new Set<number>();
  for (const c of demo.contacts) if (plan(c).some((id) => adders.has(id))) out.add(c.contact.id as number);
  return out;
}

beforeAll(async () => {
  // the generator plants its repurchase pattern relative to `now`: the job learns at the real clock
  demo = await loadDemoContacts({ contacts: 2000, seed: 29, now: Date.now(), avgEvents: 10, tz: tzOffsetMinutes(env) });
  // a tag nobody holds: the published version's matches are exactly its holders
  tagId = (await db.prepare(`INSERT INTO tags (group_id, name) VALUES (1, '学习：复购') RETURNING id`).first<number>('id'))!;
}, 180_000);

describe('refitting a published learned rule', () => {
  let fit: SuggestionDetail;
  let ruleId = 0;
  let published: RuleGraph;
  let refit: SuggestionDetail;

  beforeAll(async () => {
    const r = await api<SuggestionDetail>('/api/suggestions', json({ outcome: PURCHASE_30, depth: 3, minLeaf: 30, seed: 5 }));
    expect(r.status).toBe(202);
    fit = await finished(r.body.id);
    expect(fit.status, fit.error ?? '').toBe('done');
    const d = await api<{ ruleId: number }>(`/api/suggestions/${fit.id}/draft`, json({ name: '学习：30 天复购（重学）', tagId }));
    expect(d.status).toBe(201);
    ruleId = d.body.ruleId;
    // the person tightens a threshold before publishing: the refit (the learned tree again) differs from it there
    const rule = (await api<RuleDetail>(`/api/rules/${ruleId}`)).body;
    published = structuredClone(rule.draftGraph);
    const cond = published.nodes.find(
      (n): n is ConditionNode =>
        n.kind === 'condition' && (n.condition.op === 'gte' || n.condition.op === 'lt') && typeof n.condition.value === 'number',
    );
    expect(cond, JSON.stringify(published)).toBeDefined();
    cond!.condition.value = (cond!.condition.value as number) * 1.5 + 1;
    expect((await api(`/api/rules/${ruleId}/draft`, json({ graph: published }, 'PUT'))).status).toBe(200);
    await publish(ruleId, published);
  }, 240_000);

  it('finds the suggestion a rule was made from by the rule’s id, with no refit yet', async () => {
    const r = await api<SuggestionForRuleResponse>(`/api/suggestions/by-rule/${ruleId}`);
    expect(r.status).toBe(200);
    expect(r.body.fit?.id).toBe(fit.id);
    expect(r.body.fit?.result?.leaves.length).toBeGreaterThan(1);
    expect(r.body.refit).toBeNull();
    const plain = await api<RuleDetail>('/api/rules', json({ name: '手写规则' }));
    expect((await api<SuggestionForRuleResponse>(`/api/suggestions/by-rule/${plain.body.id}`)).body).toEqual({ fit: null, refit: null });
    expect((await api(`/api/suggestions/by-rule/999999`)).status).toBe(404);
    // a rule not made from the suggestion cannot refit it
    const wrong = await api(`/api/suggestions/${fit.id}/refit`, json({ ruleId: plain.body.id }));
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.details[0].path).toBe('ruleId');
    expect((await api(`/api/suggestions/${fit.id}/refit`, json({ ruleId, publish: true }))).status).toBe(400);
  });

  it('re-learns on demand as a new suggestion naming the rule and the rule’s tag, and audits it', async () => {
    const r = await api<SuggestionDetail>(`/api/suggestions/${fit.id}/refit`, json({ ruleId }));
    expect(r.status).toBe(202);
    expect(r.body.id).not.toBe(fit.id);
    expect(r.body.params).toEqual({ ...fit.params, refit: { from: fit.id, ruleId } });
    refit = await finished(r.body.id);
    expect(refit.status, refit.error ?? '').toBe('done');
    const adds = refit.result!.graph.nodes.flatMap((n) => (n.kind === 'action' && n.action.type === 'add_tag' ? [n.action.tagId] : []));
    expect(adds.length).toBeGreaterThan(0);
    expect(new Set(adds)).toEqual(new Set([tagId]));
    const byRule = (await api<SuggestionForRuleResponse>(`/api/suggestions/by-rule/${ruleId}`)).body;
    expect(byRule.fit?.id).toBe(fit.id);
    expect(byRule.refit?.id).toBe(refit.id);
    const audit = await db
      .prepare("SELECT params FROM audit_log WHERE action = 'suggestion.refit' AND object_id = ?")
      .bind(String(refit.id))
      .first<string>('params');
    expect(JSON.parse(audit!)).toEqual({ name: '学习：30 天复购（重学）', suggestion: fit.id });
    // the fit itself is no refit: nothing to compare
    expect((await api(`/api/suggestions/${fit.id}/diff`)).status).toBe(409);
  });

  it('diffs against the published version: who moves, counted as the JS evaluator counts them', async () => {
    const r = await api<SuggestionDiffResponse>(`/api/suggestions/${refit.id}/diff`);
    expect(r.status).toBe(200);
    expect(r.body.ok, JSON.stringify(r.body)).toBe(true);
    if (!r.body.ok) return;
    const before = tagged(published);
    const after = tagged(withTag(refit.result!.graph, tagId));
    const gain = [...after].filter((id) => !before.has(id));
    const lose = [...before].filter((id) => !after.has(id));
    expect(gain.length + lose.length).toBeGreaterThan(0);
    expect(r.body).toMatchObject({ ruleId, published: { version: 1 }, tagId, total: 2000 });
    expect(r.body.gain.count).toBe(gain.length);
    expect(r.body.lose.count).toBe(lose.length);
    expect(r.body.gain.share).toBeCloseTo(gain.length / 2000, 9);
    expect(r.body.lose.share).toBeCloseTo(lose.length / 2000, 9);
    expect(r.body.gain.sample.map((c) => c.id)).toEqual(gain.sort((a, b) => a - b).slice(0, 5));
    expect(r.body.lose.sample.map((c) => c.id)).toEqual(lose.sort((a, b) => a - b).slice(0, 5));
    // the published version's matches hold the tag: publishing the refit adds it to exactly the gainers
    expect(r.body.net.tags.find((t) => t.tagId === tagId)?.gain).toBe(gain.length);
    // preview = publish: the diff's net change is what the preview counts for the same graph
    const p = await api<RulePreviewResponse>(
      '/api/rules/preview',
      json({ graph: withTag(refit.result!.graph, tagId), ruleId, rolloutPercent: 100, sampleSize: 0 }),
    );
    expect(p.body.ok).toBe(true);
    if (p.body.ok) expect(r.body.net).toEqual(p.body.counts);
  });

  it('applying the refit makes it the rule’s draft and publishes nothing; the rule then holds it', async () => {
    const r = await api<{ ruleId: number }>(`/api/suggestions/${refit.id}/apply`, json({}));
    expect(r.status).toBe(200);
    expect(r.body.ruleId).toBe(ruleId);
    const rule = (await api<RuleDetail>(`/api/rules/${ruleId}`)).body;
    expect(rule.draftGraph).toEqual(withTag(refit.result!.graph, tagId));
    expect(rule.publishedVersion).toBe(1);
    expect(await db.prepare('SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ?').bind(ruleId).first('n')).toBe(1);
    const byRule = (await api<SuggestionForRuleResponse>(`/api/suggestions/by-rule/${ruleId}`)).body;
    expect(byRule.fit?.id).toBe(refit.id);
    expect(byRule.refit).toBeNull();
    const audit = await db
      .prepare("SELECT params FROM audit_log WHERE action = 'rule.from_refit' AND object_id = ?")
      .bind(String(ruleId))
      .first<string>('params');
    expect(JSON.parse(audit!)).toEqual({ name: '学习：30 天复购（重学）', suggestion: refit.id });
    // a draft that is not a refit cannot be applied
    expect((await api(`/api/suggestions/${fit.id}/apply`, json({}))).status).toBe(409);
  });

  it('the weekly pass queues a refit only once the rule’s newest fit is a week old, one at a time', async () => {
    const now = Date.now();
    expect(await queueDueRefits(env, now)).toEqual([]);
    const later = now + 8 * DAY;
    const queued = await queueDueRefits(env, later);
    expect(queued).toHaveLength(1);
    const row = (await api<SuggestionDetail>(`/api/suggestions/${queued[0]}`)).body;
    expect(row.params.refit).toEqual({ from: refit.id, ruleId });
    expect(row.createdBy).toBeNull();
    // the new refit is fresh: nothing more is due
    expect(await queueDueRefits(env, later)).toEqual([]);
    await finished(queued[0]!);
  }, 150_000);
});
