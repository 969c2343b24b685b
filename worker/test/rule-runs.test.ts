/**
 * A rule's run history (`GET /api/rules/:id/runs`): runs are the ledger's batches for the rule
 * (publish, scheduled), event batches grouped per hour; the counts equal the ledger's; paged;
 * 404 outside the viewer's departments. Also the explain's path (edges, tests) on an unsaved graph.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RuleExplainResponse, RuleRunsResponse } from '@shared/api/rules';
import type { RuleGraph } from '@shared/rules/types';
import { api, apiAs, NOW, seedSmallWorld, type TestUser } from './fixtures';

const db = env.DB;
const HOUR = 3_600_000;
const SOUTH_ADMIN: TestUser = { id: 9402, role: 'dept_admin', departmentId: 4 };
const EAST_STAFF: TestUser = { id: 9403, role: 'staff', departmentId: 2 };
let ruleId = 0;
let otherRuleId = 0;
const hour0 = Math.floor(NOW / HOUR) * HOUR;

type Row = [contact: number, tag: number, op: 'add' | 'remove', batch: string, version: number, at: number, source?: string];
const rows: Row[] = [];

beforeAll(async () => {
  await seedSmallWorld();
  const insertRule = (name: string, dept: number) =>
    db
      .prepare(
        `INSERT INTO rules (name, department_id, status, draft_graph, published_version, created_at, updated_at) VALUES (?, ?, 'published', '{}', 2, 1, 1) RETURNING id`,
      )
      .bind(name, dept)
      .first<{ id: number }>();
  ruleId = (await insertRule('华东规则', 2))!.id;
  otherRuleId = (await insertRule('别的规则', 2))!.id;
  // a publish of v1 (3 rows), two scheduled runs of v2, three event batches in one hour and one in the next
  rows.push(
    [1, 1, 'add', `publish:${ruleId}:1`, 1, hour0 - 50 * HOUR],
    [2, 1, 'add', `publish:${ruleId}:1`, 1, hour0 - 50 * HOUR],
    [2, 2, 'remove', `publish:${ruleId}:1`, 1, hour0 - 50 * HOUR],
    [1, 2, 'add', `schedule:${ruleId}:2:${hour0 - 30 * HOUR}`, 2, hour0 - 30 * HOUR],
    [1, 1, 'remove', `schedule:${ruleId}:2:${hour0 - 30 * HOUR}`, 2, hour0 - 30 * HOUR],
    [2, 2, 'add', `schedule:${ruleId}:2:${hour0 - 6 * HOUR}`, 2, hour0 - 6 * HOUR],
    [1, 3, 'add', 'evt-a', 2, hour0 - 2 * HOUR + 60_000],
    [2, 3, 'add', 'evt-b', 2, hour0 - 2 * HOUR + 120_000],
    [2, 4, 'add', 'evt-b', 2, hour0 - 2 * HOUR + 120_000],
    [1, 3, 'remove', 'evt-c', 2, hour0 - 2 * HOUR + 1_800_000],
    [1, 3, 'add', 'evt-d', 2, hour0 - HOUR + 5_000],
    // not runs of this rule: a rollback of its rows, and another rule's event in the same hour
    [1, 3, 'remove', 'rollback:1', 2, hour0 - HOUR + 9_000, 'rollback'],
  );
  const statements = rows.map(([contact, tag, op, batch, version, at, source]) =>
    db
      .prepare(
        'INSERT INTO tag_ledger (contact_id, tag_id, op, source, rule_id, rule_version, batch_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .bind(contact, tag, op, source ?? 'rule', ruleId, version, batch, at),
  );
  statements.push(
    db
      .prepare(
        "INSERT INTO tag_ledger (contact_id, tag_id, op, source, rule_id, rule_version, batch_id, at) VALUES (2, 3, 'add', 'rule', ?, 1, 'evt-a', ?)",
      )
      .bind(otherRuleId, hour0 - 2 * HOUR + 60_000),
  );
  await db.batch(statements);
});

describe('GET /api/rules/:id/runs', () => {
  it('lists publish and scheduled batches as runs and groups event batches per hour, newest first', async () => {
    const r = await api<RuleRunsResponse>(`/api/rules/${ruleId}/runs`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(5);
    expect(r.body.items.map((x) => [x.kind, x.events, x.versions])).toEqual([
      ['event', 1, [2]],
      ['event', 3, [2]],
      ['schedule', 1, [2]],
      ['schedule', 1, [2]],
      ['publish', 1, [1]],
    ]);
    const hourRun = r.body.items[1]!;
    expect(hourRun.key).toBe(`event:${hour0 - 2 * HOUR}`);
    expect([hourRun.from, hourRun.to]).toEqual([hour0 - 2 * HOUR + 60_000, hour0 - 2 * HOUR + 1_800_000]);
    expect(hourRun).toMatchObject({ contacts: 2, added: 3, removed: 1 });
    expect(hourRun.tags).toEqual([
      { tagId: 3, added: 2, removed: 1 },
      { tagId: 4, added: 1, removed: 0 },
    ]);
    expect(r.body.items[4]).toMatchObject({ key: `publish:${ruleId}:1`, contacts: 2, added: 2, removed: 1 });
  });

  it('counts exactly what the ledger holds for the rule (source rule), per tag and op', async () => {
    const r = await api<RuleRunsResponse>(`/api/rules/${ruleId}/runs?pageSize=100`);
    const fromRuns = new Map<string, number>();
    for (const run of r.body.items)
      for (const t of run.tags) {
        fromRuns.set(`${t.tagId}:add`, (fromRuns.get(`${t.tagId}:add`) ?? 0) + t.added);
        fromRuns.set(`${t.tagId}:remove`, (fromRuns.get(`${t.tagId}:remove`) ?? 0) + t.removed);
      }
    const ledger = await db
      .prepare("SELECT tag_id, op, count(*) AS n FROM tag_ledger WHERE rule_id = ? AND source = 'rule' GROUP BY tag_id, op")
      .bind(ruleId)
      .all<{ tag_id: number; op: string; n: number }>();
    expect(ledger.results.length).toBeGreaterThan(3);
    for (const l of ledger.results) expect(fromRuns.get(`${l.tag_id}:${l.op}`)).toBe(l.n);
    expect([...fromRuns.values()].filter((n) => n > 0).length).toBe(ledger.results.length);
    const sum = r.body.items.reduce((acc, x) => acc + x.added + x.removed, 0);
    expect(sum).toBe(ledger.results.reduce((acc, l) => acc + l.n, 0));
  });

  it('pages: the second page of two continues where the first ended, with its own per-tag split', async () => {
    const all = (await api<RuleRunsResponse>(`/api/rules/${ruleId}/runs?pageSize=100`)).body.items;
    const p1 = (await api<RuleRunsResponse>(`/api/rules/${ruleId}/runs?pageSize=2&page=1`)).body;
    const p2 = (await api<RuleRunsResponse>(`/api/rules/${ruleId}/runs?pageSize=2&page=2`)).body;
    const p3 = (await api<RuleRunsResponse>(`/api/rules/${ruleId}/runs?pageSize=2&page=3`)).body;
    expect([p1.total, p2.total, p3.total]).toEqual([5, 5, 5]);
    expect([...p1.items, ...p2.items, ...p3.items]).toEqual(all);
    expect(p3.items).toHaveLength(1);
  });

  it('is 404 for a rule outside the viewer’s departments and for a missing one; staff of its department may read it', async () => {
    expect((await apiAs(SOUTH_ADMIN, `/api/rules/${ruleId}/runs`)).status).toBe(404);
    expect((await api(`/api/rules/999999/runs`)).status).toBe(404);
    const staff = await apiAs<RuleRunsResponse>(EAST_STAFF, `/api/rules/${ruleId}/runs`);
    expect(staff.status).toBe(200);
    expect(staff.body.total).toBe(5);
  });

  it('refuses an unknown or bad query parameter with a 400 naming it', async () => {
    const r = await api<{ error: { details: { path: string }[] } }>(`/api/rules/${ruleId}/runs?pageSize=0`);
    expect(r.status).toBe(400);
    expect(r.body.error.details[0]!.path).toBe('pageSize');
    expect((await api(`/api/rules/${ruleId}/runs?since=1`)).status).toBe(400);
  });

  it('shows a rule_errors alert episode watching the rule as an error', async () => {
    const ar = await db
      .prepare(
        "INSERT INTO alert_rules (name, kind, rule_id, department_id, checked_at, created_at, updated_at) VALUES ('错误', 'rule_errors', ?, 2, 0, 0, 0) RETURNING id",
      )
      .bind(ruleId)
      .first<{ id: number }>();
    await db
      .prepare("INSERT INTO alerts (alert_rule_id, kind, state, measured, raised_at) VALUES (?, 'rule_errors', 'open', ?, ?)")
      .bind(ar!.id, JSON.stringify({ kind: 'rule_errors', reason: `rule ${ruleId} v2: no such column`, paused: false }), NOW)
      .run();
    const r = await api<RuleRunsResponse>(`/api/rules/${ruleId}/runs`);
    expect(r.body.errors).toEqual([{ kind: 'alert', at: NOW, clearedAt: null, reason: `rule ${ruleId} v2: no such column` }]);
    expect((await api<RuleRunsResponse>(`/api/rules/${otherRuleId}/runs`)).body.errors).toEqual([]);
  });
});

describe('POST /api/rules/explain on an unsaved graph', () => {
  // 张伟 (contact 1) is in 上海 and spent ¥1,280: the region test fails, the spend test holds
  const graph: RuleGraph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'gd', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } },
      { id: 'rich', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 100_000 } },
      { id: 'a1', kind: 'action', action: { type: 'add_tag', tagId: 3 } },
      // 沉睡客户: exclusive with 活跃客户, which 张伟 holds
      { id: 'a2', kind: 'action', action: { type: 'add_tag', tagId: 2 } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'gd' },
      { id: 'e2', source: 'gd', target: 'a1', sourceHandle: 'yes' },
      { id: 'e3', source: 'gd', target: 'rich', sourceHandle: 'no' },
      { id: 'e4', source: 'rich', target: 'a2', sourceHandle: 'yes' },
    ],
  };

  it('says which edges the contact flows along, each test’s verdict and the tags it would gain and lose', async () => {
    const r = await api<Extract<RuleExplainResponse, { ok: true }>>('/api/rules/explain', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ graph, contactId: 1 }),
    });
    expect(r.status).toBe(200);
    expect(r.body.explanation.fired).toEqual(['a2']);
    expect(r.body.explanation.edges).toEqual({ e1: true, e2: false, e3: true, e4: true });
    expect(r.body.explanation.tests).toEqual({ gd: false, rich: true });
    expect(r.body.explanation.reached).toMatchObject({ t: true, gd: true, rich: true, a1: false, a2: true });
    expect(r.body.change).toEqual({ gain: [2], lose: [1] });
  });
});
