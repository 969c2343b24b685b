/**
 * Segment references ("in segment X") and 所属部门 "and below" through the API: cycles refused
 * with their path, a used segment not deletable, a hidden segment not nameable, and both
 * conditions live: a published rule follows an edit of X, and a department created after
 * publishing is covered, on the signed webhook path.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SegmentDetail, SegmentPreviewResponse } from '@shared/api/segments';
import { expectedOf, type PublishResponse, type RuleDetail, type RulePreviewResponse } from '@shared/api/rules';
import { compileRule } from '@shared/rules/compile';
import { compileLogic, truthy } from '@shared/rules/evaluate';
import type { ConditionSpec, RuleGraph, RuleNode } from '@shared/rules/types';
import { runPreview } from '../src/rules/preview';
import { loadEvalData } from '../src/rules/load';
import { api, apiAs, seedSmallWorld, untilStored, webhookSignature, type TestUser } from './fixtures';

const db = env.DB;
const SECRET = 'segref-secret';
const SOUTH: TestUser = { id: 9403, role: 'dept_admin', departmentId: 4 };
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

beforeAll(async () => {
  await seedSmallWorld();
  await db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('segref', 'CRM', 'generic', ?)`).bind(SECRET).run();
});

const start: RuleNode = { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } };

/** A segment: Start → each condition (yes) in a chain → End. */
function segmentGraph(...conditions: ConditionSpec[]): RuleGraph {
  const nodes: RuleNode[] = [start, ...conditions.map((condition, i): RuleNode => ({ id: `c${i}`, kind: 'condition', condition }))];
  nodes.push({ id: 'end', kind: 'logic', op: 'or' });
  const ids = nodes.map((n) => n.id);
  return {
    schemaVersion: 1,
    nodes,
    edges: ids.slice(1).map((id, i) => ({ id: `e${i}`, source: ids[i]!, target: id, ...(i > 0 ? { sourceHandle: 'yes' } : {}) })),
  };
}

const inSegment = (id: number, op: 'in_segment' | 'not_in_segment' = 'in_segment'): ConditionSpec => ({ field: 'segment', op, value: id });

/** A rule: trigger → condition → add tag (yes). */
function ruleGraph(condition: ConditionSpec, tagId: number, trigger: 'event' | 'schedule'): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      {
        id: 't',
        kind: 'trigger',
        trigger: trigger === 'event' ? { type: 'event', eventType: 'message', filters: [] } : { type: 'schedule', cron: '0 3 * * *' },
      },
      { id: 'c', kind: 'condition', condition },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    ],
  };
}

async function createSegment(name: string, graph: RuleGraph, departmentId?: number): Promise<SegmentDetail> {
  const r = await api<SegmentDetail>('/api/segments', json({ name, graph, ...(departmentId ? { departmentId } : {}) }));
  expect(r.status).toBe(201);
  return r.body;
}

/** Posts the events through the signed webhook and waits until they are stored (rules ran). */
async function post(events: Record<string, unknown>[]) {
  const body = JSON.stringify({ events });
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await exports.default.fetch(
    new Request('http://segflow.test/api/webhooks/segref', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'X-Segflow-Timestamp': ts,
        'X-Segflow-Signature': await webhookSignature(SECRET, ts, body),
      },
      body,
    }),
  );
  expect(res.status).toBe(202);
  await untilStored(
    'segref',
    events.map((e) => e.id as string),
  );
}

const holds = async (ext: string, tagId: number) =>
  !!(await db
    .prepare('SELECT 1 AS x FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE c.external_id = ? AND ct.tag_id = ?')
    .bind(ext, tagId)
    .first());

/** Creates a rule and publishes it through the API (preview, then confirm what it counted). */
async function publishRule(name: string, graph: RuleGraph): Promise<number> {
  const created = await api<RuleDetail>('/api/rules', json({ name, graph }));
  expect(created.status).toBe(201);
  const p = await api<RulePreviewResponse>('/api/rules/preview', json({ graph, ruleId: created.body.id, sampleSize: 0 }));
  if (!p.body.ok) throw new Error(JSON.stringify(p.body.errors));
  const expected = expectedOf(p.body.counts);
  const r = await api<PublishResponse>(
    `/api/rules/${created.body.id}/publish`,
    json({ rolloutPercent: 100, graphHash: p.body.graphHash, expected, confirm: true }),
  );
  expect(r.status).toBe(200);
  return created.body.id;
}

describe('segment references', () => {
  it('refuses a cycle on save with the path in names (409), a segment naming itself too', async () => {
    const a = await createSegment('环A', segmentGraph({ field: 'totalSpend', op: 'gte', value: 100_000 }));
    const b = await createSegment('环B', segmentGraph(inSegment(a.id)));
    const cycle = await api(`/api/segments/${a.id}`, json({ graph: segmentGraph(inSegment(b.id)) }, 'PUT'));
    expect(cycle.status).toBe(409);
    expect(cycle.body.error.message).toContain('"环A" → "环B" → "环A"');
    expect(cycle.body.error.details).toEqual([expect.objectContaining({ path: 'graph.nodes.c0' })]);
    const self = await api(`/api/segments/${a.id}`, json({ graph: segmentGraph(inSegment(a.id)) }, 'PUT'));
    expect(self.status).toBe(409);
    expect(self.body.error.message).toContain('"环A" → "环A"');
    // nothing was saved: A still counts its big spenders (contacts 1 and 5)
    const after = await api<SegmentDetail>(`/api/segments/${a.id}`);
    expect(after.body.size).toBe(2);
    // the editor's preview of A names the loop as an error on the node
    const preview = await api<SegmentPreviewResponse>(
      '/api/segments/preview',
      json({ graph: segmentGraph(inSegment(b.id)), segmentId: a.id, sampleSize: 0 }),
    );
    expect(preview.body).toMatchObject({ ok: false, errors: [{ nodeId: 'c0', code: 'segment_cycle', path: ['环A', '环B', '环A'] }] });
  });

  it('refuses to publish a rule over a loop of segments (stored behind the API), naming the loop, never a 500', async () => {
    const a = await createSegment('旧环A', segmentGraph({ field: 'city', op: 'eq', value: '上海' }));
    const b = await createSegment('旧环B', segmentGraph(inSegment(a.id)));
    const graph = ruleGraph(inSegment(b.id), 3, 'schedule');
    const created = await api<RuleDetail>('/api/rules', json({ name: '环上的规则', graph }));
    // a loop written straight to the table, as an old or concurrent write could leave it
    await db
      .prepare('UPDATE segments SET graph = ? WHERE id = ?')
      .bind(JSON.stringify(segmentGraph(inSegment(b.id))), a.id)
      .run();
    const p = await api<RulePreviewResponse>('/api/rules/preview', json({ graph, ruleId: created.body.id, sampleSize: 0 }));
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ ok: false, errors: [{ nodeId: 'c', code: 'segment_cycle' }] });
    const r = await api(
      `/api/rules/${created.body.id}/publish`,
      json({ rolloutPercent: 100, graphHash: p.body.graphHash, expected: {}, confirm: true }),
    );
    expect(r.status).toBe(422);
    expect(r.body.error.message).toContain('"旧环B" → "旧环A" → "旧环B"');
    await db.prepare('UPDATE segments SET graph = ? WHERE id = ?').bind(JSON.stringify(segmentGraph()), a.id).run();
  });

  it('refuses to delete a segment a rule or a segment uses (409 naming them), and deletes it once unused', async () => {
    const x = await createSegment('被用的分群', segmentGraph({ field: 'region', op: 'eq', value: '广东' }));
    const y = await createSegment('用它的分群', segmentGraph(inSegment(x.id)));
    const rule = await api<RuleDetail>(
      '/api/rules',
      json({ name: '用它的规则', graph: ruleGraph(inSegment(x.id, 'not_in_segment'), 3, 'schedule') }),
    );
    const refused = await api(`/api/segments/${x.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('rule "用它的规则"');
    expect(refused.body.error.message).toContain('segment "用它的分群"');
    expect(refused.body.error.details).toEqual([
      { path: `usedBy.rule.${rule.body.id}`, message: '用它的规则' },
      { path: `usedBy.segment.${y.id}`, message: '用它的分群' },
    ]);
    expect(await db.prepare('SELECT id FROM segments WHERE id = ?').bind(x.id).first()).not.toBeNull();
    // once nothing names it
    expect((await api(`/api/segments/${y.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/api/rules/${rule.body.id}/archive`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await api(`/api/segments/${x.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('refuses a reference to a segment outside the user’s department (400 naming it), as if it did not exist', async () => {
    const east = await createSegment('华东的分群', segmentGraph({ field: 'region', op: 'eq', value: '浙江' }), 2);
    const own = await createSegment('华南的分群', segmentGraph({ field: 'region', op: 'eq', value: '广东' }), 4);
    const hidden = await apiAs(SOUTH, '/api/segments', json({ name: '引用华东', graph: segmentGraph(inSegment(east.id)) }));
    expect(hidden.status).toBe(400);
    expect(hidden.body.error).toMatchObject({ code: 'unknown_reference' });
    expect(hidden.body.error.message).toContain(`${east.id}`);
    const unknown = await apiAs(SOUTH, '/api/segments', json({ name: '引用不存在', graph: segmentGraph(inSegment(999_999)) }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('999999');
    const preview = await apiAs(SOUTH, '/api/rules/preview', json({ graph: ruleGraph(inSegment(east.id), 3, 'schedule'), sampleSize: 0 }));
    expect(preview.status).toBe(400);
    // their own department's segment is fine
    const ok = await apiAs<SegmentDetail>(SOUTH, '/api/segments', json({ name: '引用华南', graph: segmentGraph(inSegment(own.id)) }));
    expect(ok.status).toBe(201);
    expect(ok.body.size).toBe(2);
  });

  it('a segment built on another follows its edits: size and stored audience', async () => {
    const base = await createSegment('城市', segmentGraph({ field: 'city', op: 'eq', value: '上海' }));
    const top = await createSegment('城市里的女性', segmentGraph(inSegment(base.id), { field: 'gender', op: 'eq', value: 'female' }));
    expect(top.size).toBe(0); // 上海: 张伟 (male)
    await api(`/api/segments/${base.id}`, json({ graph: segmentGraph({ field: 'city', op: 'eq', value: '杭州' }) }, 'PUT'));
    const after = await api<SegmentDetail>(`/api/segments/${top.id}`);
    expect(after.body.size).toBe(1); // 杭州: 李娜
    // the stored audience other readers count with (overlap, snapshots, export) followed too
    const stored = await db.prepare('SELECT logic FROM segments WHERE id = ?').bind(top.id).first<{ logic: string }>();
    expect(stored!.logic).toContain('杭州');
    expect(stored!.logic).not.toContain('上海');
  });

  it('a published rule "in segment X" follows an edit of X on the webhook path, with no republish', async () => {
    const x = await createSegment('跟随的分群', segmentGraph({ field: 'city', op: 'eq', value: '深圳' }));
    await publishRule('在分群中就打标签', ruleGraph(inSegment(x.id), 3, 'event'));
    // 李娜 (杭州) is not in X: a message does nothing
    await post([{ id: 'f-1', type: 'message', occurredAt: Date.now() - 60_000, text: '你好', contact: { externalId: 'wxid_b' } }]);
    expect(await holds('wxid_b', 3)).toBe(false);
    // X now means 杭州: the very next message tags her
    const put = await api(`/api/segments/${x.id}`, json({ graph: segmentGraph({ field: 'city', op: 'eq', value: '杭州' }) }, 'PUT'));
    expect(put.status).toBe(200);
    await post([{ id: 'f-2', type: 'message', occurredAt: Date.now() - 30_000, text: '你好', contact: { externalId: 'wxid_b' } }]);
    expect(await holds('wxid_b', 3)).toBe(true);
  });
});

describe('所属部门 and below', () => {
  it('covers a department created after the rule was compiled: SQL and the JS loader alike', async () => {
    const compiled = compileRule(ruleGraph({ field: 'departmentId', op: 'in_department_tree', value: 2 }, 3, 'schedule'));
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    const ctx = { now: Date.now(), tzOffsetMinutes: 480 };
    const count = async () => {
      const r = await runPreview(db, compiled.value, ctx, {});
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.value.nodes.a;
    };
    expect(await count()).toBe(2); // 张伟 (上海一组 under 华东大区), 李娜 (华东大区)
    await db.batch([
      db.prepare("INSERT INTO departments (id, name, parent_id, path) VALUES (31, '浦东小组', 3, '/1/2/3/31/')"),
      db.prepare(
        "INSERT INTO contacts (id, kind, external_id, name, department_id, bucket, created_at, updated_at) VALUES (31, 'friend', 'pd_1', '赵新', 31, 7, 0, 0)",
      ),
    ]);
    expect(await count()).toBe(3);
    const data = await loadEvalData(db, 31, { now: ctx.now, tzOffsetMinutes: 480, statsDays: 0, eventsDays: 0 });
    expect(data?.contact.departmentPath).toBe('/1/2/3/31/');
    expect(truthy(compileLogic(compiled.value.nodeLogic.a!)(data!))).toBe(true);
    // 华南 is not under 华东
    const south = await loadEvalData(db, 3, { now: ctx.now, tzOffsetMinutes: 480, statsDays: 0, eventsDays: 0 });
    expect(truthy(compileLogic(compiled.value.nodeLogic.a!)(south!))).toBe(false);
  });

  it('a published event rule covers a department created after publishing, on the webhook path', async () => {
    await publishRule('华东及下级', ruleGraph({ field: 'departmentId', op: 'in_department_tree', value: 2 }, 5, 'event'));
    await db.batch([
      db.prepare("INSERT INTO departments (id, name, parent_id, path) VALUES (32, '杭州小组', 2, '/1/2/32/')"),
      db.prepare(
        "INSERT INTO contacts (id, kind, external_id, name, department_id, bucket, created_at, updated_at) VALUES (32, 'friend', 'hz_1', '钱新', 32, 8, 0, 0)",
      ),
    ]);
    await post([
      { id: 'd-1', type: 'message', occurredAt: Date.now() - 60_000, text: '在吗', contact: { externalId: 'hz_1' } },
      { id: 'd-2', type: 'message', occurredAt: Date.now() - 60_000, text: '在吗', contact: { externalId: 'o_c' } },
    ]);
    expect(await holds('hz_1', 5)).toBe(true);
    expect(await holds('o_c', 5)).toBe(false);
  });
});
