/**
 * Learned rule suggestions over the demo data (issue 19), through the real API, the real
 * `segflow-suggestions` queue (miniflare delivers the message to the worker's own consumer, as
 * the intake tests' webhooks do) and real D1: "purchases within 30 days" is learned from the
 * demo's planted pattern and beats the best single condition on held-out contacts; the draft it
 * makes is an ordinary draft rule whose preview works; bad bodies, roles and scope are refused.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import type { SuggestionDetail, SuggestionListResponse } from '@shared/api/suggestions';
import type { RuleDetail, RulePreviewResponse } from '@shared/api/rules';
import { compileRule } from '@shared/rules/compile';
import { asOfEnd } from '@shared/learn/features';
import { api, apiAs, eventually, type TestUser } from './fixtures';
import { consumeSuggestionsDead } from '../src/learn/consume';
import { SUGGESTIONS_DEAD_QUEUE } from '../src/learn/message';
import { withTag } from '../src/learn/draft';
import { tzOffsetMinutes } from '../src/rules/context';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
/** 华东大区 (departments 2 › 3–6) and 华南大区 (7 › 8, 9) of the demo. */
const EAST_ADMIN: TestUser = { id: 9201, role: 'dept_admin', departmentId: 2 };
const EAST_STAFF: TestUser = { id: 9202, role: 'staff', departmentId: 3 };
const SOUTH = 7;
const PURCHASE_30 = { kind: 'future_event', eventType: 'purchase', days: 30 } as const;
let companyTag = 0;

beforeAll(async () => {
  // the generator plants its repurchase pattern relative to `now`: the job learns at the real clock
  const statements = [...demoSql({ contacts: 3000, seed: 19, now: Date.now(), avgEvents: 10 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  companyTag = (await db
    .prepare(
      `SELECT t.id FROM tags t JOIN tag_groups g ON g.id = t.group_id
       WHERE g.department_id IS NULL AND g.apply_role = 'staff' AND g.exclusive = 0 AND t.status = 'active' ORDER BY t.id LIMIT 1`,
    )
    .first<number>('id'))!;
  expect(companyTag).toBeGreaterThan(0);
}, 180_000);

async function finished(id: number, user?: TestUser): Promise<SuggestionDetail> {
  return eventually(
    `suggestion ${id} finished`,
    async () => {
      const r = user
        ? await apiAs<SuggestionDetail>(user, `/api/suggestions/${id}`)
        : await api<SuggestionDetail>(`/api/suggestions/${id}`);
      expect(r.status).toBe(200);
      return r.body.status === 'done' || r.body.status === 'failed' ? r.body : null;
    },
    120_000,
  );
}

describe('learning "purchases within 30 days" from the demo', () => {
  let done: SuggestionDetail;

  beforeAll(async () => {
    const r = await api<SuggestionDetail>('/api/suggestions', json({ outcome: PURCHASE_30, depth: 4, minLeaf: 30, seed: 3 }));
    expect(r.status).toBe(202);
    expect(r.body.status).toBe('queued');
    expect(r.body.result).toBeNull();
    done = await finished(r.body.id);
  }, 180_000);

  it('answers 202 at once and ends done, with every contact of its scope that existed 30 days ago loaded', async () => {
    expect(done.status, done.error ?? '').toBe('done');
    expect(done.progress).toBe(100);
    const existed = (await db
      .prepare('SELECT COUNT(*) AS n FROM contacts WHERE created_at <= ?')
      .bind(asOfEnd(Date.now(), 30, tzOffsetMinutes(env)))
      .first<number>('n'))!;
    expect(done.total).toBe(existed);
    expect(done.loaded).toBe(existed);
    expect(done.result!.trainRows + done.result!.heldOutRows).toBe(existed);
    expect(done.params).toEqual({ outcome: PURCHASE_30, depth: 4, minLeaf: 30, seed: 3 });
  });

  it('beats the best single condition on held-out contacts, in precision and in recall', () => {
    const { learned, baseline } = done.result!;
    expect(baseline).not.toBeNull();
    expect(learned.picked).toBeGreaterThan(0);
    expect(learned.precision).toBeGreaterThan(baseline!.quality.precision);
    expect(learned.recall).toBeGreaterThan(baseline!.quality.recall - 0.02);
    expect(learned.f1).toBeGreaterThan(baseline!.quality.f1 + 0.05);
    expect(learned.lift).toBeGreaterThan(2);
  });

  it('holds a draft graph that compiles, and leaves with held-out size, rate and lift that add up', () => {
    const { graph, leaves, heldOutRows, learned } = done.result!;
    const compiled = compileRule(withTag(graph, companyTag));
    expect(compiled.ok, JSON.stringify(compiled)).toBe(true);
    expect(leaves.reduce((s, l) => s + l.heldOut.n, 0)).toBe(heldOutRows);
    const tagged = leaves.filter((l) => l.actionNodeId !== null);
    expect(tagged.length).toBeGreaterThan(0);
    expect(tagged.reduce((s, l) => s + l.heldOut.n, 0)).toBe(learned.picked);
    for (const l of leaves) {
      expect(l.path.length).toBeGreaterThan(0);
      expect(l.path[l.path.length - 1]!.nodeId).toBe(l.from);
      if (l.heldOut.n > 0) expect(l.heldOut.lift).toBeCloseTo(l.heldOut.rate / learned.baseRate, 6);
    }
    // the planted spend is what the tree finds first
    expect(JSON.stringify(graph)).toContain('"event.amount"');
  });

  it('makes an ordinary draft rule whose preview works, naming the tag the person picks', async () => {
    const missing = await api(`/api/suggestions/${done.id}/draft`, json({ name: '学习：30 天复购' }));
    expect(missing.status).toBe(400);
    expect(missing.body.error.details[0].path).toBe('tagId');
    const r = await api<{ ruleId: number }>(`/api/suggestions/${done.id}/draft`, json({ name: '学习：30 天复购', tagId: companyTag }));
    expect(r.status).toBe(201);
    const rule = await api<RuleDetail>(`/api/rules/${r.body.ruleId}`);
    expect(rule.status).toBe(200);
    expect(rule.body).toMatchObject({ status: 'draft', publishedVersion: null });
    expect(rule.body.draftGraph).toEqual(withTag(done.result!.graph, companyTag));
    const p = await api<RulePreviewResponse>(
      '/api/rules/preview',
      json({ graph: rule.body.draftGraph, ruleId: r.body.ruleId, sampleSize: 5 }),
    );
    expect(p.status).toBe(200);
    expect(p.body.ok, JSON.stringify(p.body)).toBe(true);
    if (!p.body.ok) return;
    expect(p.body.counts.total).toBe(3000);
    expect(p.body.counts.matched).toBeGreaterThan(0);
    // the suggestion remembers its draft; nothing was published
    expect((await api<SuggestionDetail>(`/api/suggestions/${done.id}`)).body.ruleIds).toEqual([r.body.ruleId]);
    expect(await db.prepare('SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ?').bind(r.body.ruleId).first('n')).toBe(0);
    const audit = await db
      .prepare("SELECT object_id, params FROM audit_log WHERE action = 'rule.from_suggestion'")
      .all<{ object_id: string; params: string }>();
    expect(audit.results).toEqual([
      { object_id: String(r.body.ruleId), params: JSON.stringify({ name: '学习：30 天复购', suggestion: done.id }) },
    ]);
  });

  it('audits the request', async () => {
    const row = await db
      .prepare("SELECT object_type, params FROM audit_log WHERE action = 'suggestion.create' AND object_id = ?")
      .bind(String(done.id))
      .first<{ object_type: string; params: string }>();
    expect(row).toEqual({
      object_type: 'suggestion',
      params: JSON.stringify({ variant: 'future_event', eventType: 'purchase', days: 30 }),
    });
  });
});

describe('scope', () => {
  it('a department admin learns from their department’s contacts only, and sees only their suggestions', async () => {
    const r = await apiAs<SuggestionDetail>(EAST_ADMIN, '/api/suggestions', json({ outcome: PURCHASE_30, depth: 2, minLeaf: 20 }));
    expect(r.status).toBe(202);
    const done = await finished(r.body.id, EAST_ADMIN);
    const east = (await db
      .prepare(
        `SELECT COUNT(*) AS n FROM contacts WHERE created_at <= ? AND department_id IN (SELECT id FROM departments WHERE instr(path, '/1/2/') = 1)`,
      )
      .bind(asOfEnd(Date.now(), 30, tzOffsetMinutes(env)))
      .first<number>('n'))!;
    expect(east).toBeGreaterThan(0);
    expect(east).toBeLessThan(2500);
    expect(done.total).toBe(east);
    expect(done.departmentId).toBe(2);
    // the super admin's company-wide suggestions are not theirs to see
    const list = await apiAs<SuggestionListResponse>(EAST_ADMIN, '/api/suggestions');
    expect(list.body.items.map((i) => i.id)).toEqual([r.body.id]);
    const all = await api<SuggestionListResponse>('/api/suggestions');
    expect(all.body.items.map((i) => i.id)).toContain(r.body.id);
    expect(all.body.items.length).toBeGreaterThan(1);
    const other = all.body.items.find((i) => i.departmentId === null)!;
    expect((await apiAs(EAST_ADMIN, `/api/suggestions/${other.id}`)).status).toBe(404);
    expect((await apiAs(EAST_ADMIN, `/api/suggestions/${other.id}/draft`, json({ name: 'x', tagId: companyTag }))).status).toBe(404);
  });

  it('a tag or segment of another department does not exist for a department admin (404)', async () => {
    const group = (await db
      .prepare(`INSERT INTO tag_groups (name, department_id) VALUES ('华南专属', ?) RETURNING id`)
      .bind(SOUTH)
      .first<number>('id'))!;
    const tag = (await db
      .prepare(`INSERT INTO tags (group_id, name) VALUES (?, '华南大客户') RETURNING id`)
      .bind(group)
      .first<number>('id'))!;
    const seg = (await db
      .prepare(
        `INSERT INTO segments (name, department_id, graph, logic, created_at, updated_at) VALUES ('华南分群', ?, '{"schemaVersion":1,"nodes":[],"edges":[]}', '{"sf_has_tag":[1]}', 1, 1) RETURNING id`,
      )
      .bind(SOUTH)
      .first<number>('id'))!;
    const before = (await db.prepare('SELECT COUNT(*) AS n FROM rule_suggestions').first<number>('n'))!;
    const t = await apiAs(EAST_ADMIN, '/api/suggestions', json({ outcome: { kind: 'tag', tagId: tag }, depth: 2, minLeaf: 20 }));
    expect(t.status).toBe(404);
    const s = await apiAs(EAST_ADMIN, '/api/suggestions', json({ outcome: { kind: 'segment', segmentId: seg }, depth: 2, minLeaf: 20 }));
    expect(s.status).toBe(404);
    expect((await api('/api/suggestions', json({ outcome: { kind: 'tag', tagId: 999_999 }, depth: 2, minLeaf: 20 }))).status).toBe(404);
    expect(await db.prepare('SELECT COUNT(*) AS n FROM rule_suggestions').first('n')).toBe(before);
    // the super admin may learn that segment: a segment outcome is labelled by its own SQL
    const ok = await api<SuggestionDetail>(
      '/api/suggestions',
      json({ outcome: { kind: 'segment', segmentId: seg }, depth: 2, minLeaf: 20 }),
    );
    expect(ok.status).toBe(202);
    expect(ok.body.outcomeName).toBe('华南分群');
  });

  it('staff may not learn or read suggestions (403)', async () => {
    expect((await apiAs(EAST_STAFF, '/api/suggestions', json({ outcome: PURCHASE_30, depth: 2, minLeaf: 20 }))).status).toBe(403);
    expect((await apiAs(EAST_STAFF, '/api/suggestions')).status).toBe(403);
  });
});

describe('bad input and failures', () => {
  it.each([
    [{ outcome: PURCHASE_30, depth: 6, minLeaf: 30 }, 'depth'],
    [{ outcome: PURCHASE_30, depth: 0, minLeaf: 30 }, 'depth'],
    [{ outcome: PURCHASE_30, depth: 3, minLeaf: 1 }, 'minLeaf'],
    [{ outcome: PURCHASE_30, depth: 3 }, 'minLeaf'],
    [{ outcome: { ...PURCHASE_30, days: 365 }, depth: 3, minLeaf: 30 }, 'outcome.days'],
    [{ outcome: { ...PURCHASE_30, eventType: 'dance' }, depth: 3, minLeaf: 30 }, 'outcome.eventType'],
    [{ outcome: { kind: 'guess' }, depth: 3, minLeaf: 30 }, 'outcome.kind'],
    [{ outcome: { kind: 'tag', tagId: 'x' }, depth: 3, minLeaf: 30 }, 'outcome.tagId'],
    [{ outcome: PURCHASE_30, depth: 3, minLeaf: 30, publish: true }, 'publish'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const r = await api('/api/suggestions', json(body));
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
  });

  it('ends failed with the reason in words when nobody has the outcome, never stuck running', async () => {
    const unused = (await db.prepare(`INSERT INTO tags (group_id, name) VALUES (1, '无人持有') RETURNING id`).first<number>('id'))!;
    const r = await api<SuggestionDetail>('/api/suggestions', json({ outcome: { kind: 'tag', tagId: unused }, depth: 2, minLeaf: 20 }));
    expect(r.status).toBe(202);
    const done = await finished(r.body.id);
    expect(done).toMatchObject({ status: 'failed', errorCode: 'one_class', result: null });
    expect(done.error).toMatch(/nothing to tell apart/);
    // a failed suggestion makes no draft
    const d = await api(`/api/suggestions/${r.body.id}/draft`, json({ name: '不行', tagId: companyTag }));
    expect(d.status).toBe(409);
  });

  it('marks a suggestion failed when its message reaches the dead-letter queue (the job died on every attempt)', async () => {
    const id = (await db
      .prepare(`INSERT INTO rule_suggestions (status, params, created_at, updated_at) VALUES ('running', ?, 1, 1) RETURNING id`)
      .bind(JSON.stringify({ outcome: PURCHASE_30, depth: 2, minLeaf: 20, seed: 1 }))
      .first<number>('id'))!;
    const batch = createMessageBatch(SUGGESTIONS_DEAD_QUEUE, [
      { id: 'dead-1', timestamp: new Date(), attempts: 1, body: { v: 1, suggestionId: id } },
    ]);
    const ctx = createExecutionContext();
    await consumeSuggestionsDead(batch as MessageBatch<unknown>, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(['dead-1']);
    const row = (await api<SuggestionDetail>(`/api/suggestions/${id}`)).body;
    expect(row).toMatchObject({ status: 'failed', errorCode: 'job_failed' });
    expect(row.error).toMatch(/stopped before finishing/);
  });
});
