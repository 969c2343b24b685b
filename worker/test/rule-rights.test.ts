/**
 * Rules carry their author's rights (issue 13): a rule may only add or remove tags that the
 * person it acts for could apply by hand. Saving, creating, duplicating, restoring and publishing
 * check the acting user; webhook and cron runs check the publisher of the published version, and
 * a version whose rights were lost since is paused with its reason, never run.
 */
import { env } from 'cloudflare:workers';
import { exports } from 'cloudflare:workers';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectedOf, type PublishResponse, type RuleDetail, type RuleListResponse, type RulePreviewResponse } from '@shared/api/rules';
import type { RuleGraph } from '@shared/rules/types';
import { runScheduled } from '../src/cron/scheduled';
import { ingest } from '../src/ingest/pipeline';
import { api, apiAs, seedSmallWorld, type TestUser, untilStored, webhookSignature } from './fixtures';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** 华东大区's admin; contact 2 (李娜) is in 华东大区. */
const ADMIN2: TestUser = { id: 9102, role: 'dept_admin', departmentId: 2, email: 'admin2@segflow.test' };
const ADMIN4: TestUser = { id: 9104, role: 'dept_admin', departmentId: 4, email: 'admin4@segflow.test' };
const SECRET = 'rights-secret';

/** Tags of the small world: 1 活跃客户 (生命周期, super admins only), 3 美妆 (兴趣偏好, dept admins), 7 华南专享 (华南大区's own group). */
const SUPER_ONLY_TAG = 1;
const ADMIN_TAG = 3;
const SOUTH_TAG = 7;

beforeAll(async () => {
  await seedSmallWorld();
  await db.batch([
    db.prepare(`UPDATE tag_groups SET apply_role = 'super_admin' WHERE id = 1`),
    db.prepare(
      `INSERT INTO tag_groups (id, name, color, exclusive, sort_order, department_id, apply_role) VALUES (3, '华南专属', '#67c23a', 0, 3, 4, 'dept_admin')`,
    ),
    db.prepare(`INSERT INTO tags (id, group_id, parent_id, level, name, status) VALUES (7, 3, null, 1, '华南专享', 'active')`),
    db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('shop', '商城', 'generic', ?)`).bind(SECRET),
  ]);
});

/** The rights every test starts from: 兴趣偏好 applied by dept admins, company-wide; 美妆 in 兴趣偏好. */
beforeEach(async () => {
  await db.batch([
    db.prepare(`UPDATE tag_groups SET apply_role = 'dept_admin', department_id = NULL WHERE id = 2`),
    db.prepare(`UPDATE tags SET group_id = 2 WHERE id = 3`),
    db.prepare(`DELETE FROM contact_tags WHERE tag_id = 3 AND contact_id = 2`),
  ]);
});

const actionGraph = (
  tagId: number,
  trigger: RuleGraph['nodes'][number] = { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } },
): RuleGraph => ({
  schemaVersion: 1,
  nodes: [
    trigger,
    {
      id: 'c',
      kind: 'condition',
      condition:
        trigger.kind === 'trigger' && trigger.trigger.type === 'schedule'
          ? { field: 'totalSpend', op: 'gte', value: 5000 }
          : { field: 'trigger.text', op: 'contains_any', value: ['价格'] },
    },
    { id: 'a', kind: 'action', action: { type: 'add_tag', tagId } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'c' },
    { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
  ],
});
const scheduleGraph = (tagId: number) => actionGraph(tagId, { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '* * * * *' } });

/** Creates (as `user`, in their department), previews and publishes; returns the rule id. */
async function publishAs(user: TestUser, name: string, graph: RuleGraph): Promise<number> {
  const created = await apiAs<RuleDetail>(user, '/api/rules', json({ name, graph }));
  expect(created.status).toBe(201);
  return (await publishExisting(user, created.body.id, graph)).rule.id;
}

async function publishExisting(user: TestUser, id: number, graph: RuleGraph): Promise<PublishResponse> {
  const p = await apiAs<RulePreviewResponse>(user, '/api/rules/preview', json({ graph, ruleId: id, rolloutPercent: 100, sampleSize: 0 }));
  if (!p.body.ok) throw new Error(JSON.stringify(p.body.errors));
  const expected = expectedOf(p.body.counts);
  const res = await apiAs<PublishResponse>(
    user,
    `/api/rules/${id}/publish`,
    json({ rolloutPercent: 100, graphHash: p.body.graphHash, expected, confirm: true }),
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const sign = (ts: string, body: string) => webhookSignature(SECRET, ts, body);

let eventSeq = 0;
/** 李娜 (wxid_b, 华东大区) asks about prices; returns the webhook's status once the consumer stored the event. */
async function priceQuestion(): Promise<number> {
  const id = `rights-${++eventSeq}`;
  const body = JSON.stringify({
    id,
    type: 'message',
    occurredAt: Date.now() - 1000,
    contact: { externalId: 'wxid_b' },
    text: '价格多少',
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await exports.default.fetch(
    new Request('http://segflow.test/api/webhooks/shop', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Segflow-Timestamp': ts, 'X-Segflow-Signature': await sign(ts, body) },
      body,
    }),
  );
  await res.text();
  if (res.status === 202) await untilStored('shop', [id]);
  return res.status;
}

const holds = async (contactId: number, tagId: number) =>
  !!(await db.prepare('SELECT 1 AS x FROM contact_tags WHERE contact_id = ? AND tag_id = ?').bind(contactId, tagId).first());
const ruleRow = (id: number) =>
  db.prepare('SELECT status, paused_reason FROM rules WHERE id = ?').bind(id).first<{ status: string; paused_reason: string | null }>();

describe('saving, publishing and restoring check the acting user', () => {
  it('refuses a department admin a draft that adds a tag they may not apply by hand, naming the node and the group', async () => {
    // by hand: refused
    const manual = await apiAs(ADMIN2, '/api/contacts/2/tags', json({ add: [SUPER_ONLY_TAG], remove: [] }));
    expect(manual.status).toBe(403);
    // through a rule: refused too, at creation and at save
    const created = await apiAs(ADMIN2, '/api/rules', json({ name: '偷打生命周期', graph: actionGraph(SUPER_ONLY_TAG) }));
    expect(created.status).toBe(403);
    expect(created.body.error.details).toEqual([{ path: 'graph.nodes.a', message: expect.stringContaining('生命周期') }]);
    const empty = await apiAs<RuleDetail>(ADMIN2, '/api/rules', json({ name: '空规则' }));
    expect(empty.status).toBe(201);
    const saved = await apiAs(ADMIN2, `/api/rules/${empty.body.id}/draft`, json({ graph: actionGraph(SUPER_ONLY_TAG) }, 'PUT'));
    expect(saved.status).toBe(403);
    expect(saved.body.error.code).toBe('forbidden');
    expect(saved.body.error.details[0].path).toBe('graph.nodes.a');
    expect(saved.body.error.details[0].message).toContain('higher role');
    // a tag they may apply is fine
    expect((await apiAs(ADMIN2, `/api/rules/${empty.body.id}/draft`, json({ graph: actionGraph(ADMIN_TAG) }, 'PUT'))).status).toBe(200);
  });

  it("refuses a band node whose band adds a tag the user may not apply, naming the band's action", async () => {
    const band = (tagId: number): RuleGraph => ({
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '* * * * *' } },
        {
          id: 'b',
          kind: 'band',
          metrics: [{ field: 'messageCount', weight: 100, cap: 10 }],
          bands: [
            { id: 'hi', min: 50, max: null, tagId },
            { id: 'lo', min: 0, max: 50, tagId: ADMIN_TAG },
          ],
        },
      ],
      edges: [{ id: 'e1', source: 't', target: 'b' }],
    });
    const refused = await apiAs(ADMIN2, '/api/rules', json({ name: '分层偷打', graph: band(SUPER_ONLY_TAG) }));
    expect(refused.status).toBe(403);
    expect(refused.body.error.details).toEqual([{ path: 'graph.nodes.b:hi', message: expect.stringContaining('生命周期') }]);
    // the workspace's groups reach the compiler: 华南专享 is in another, non-exclusive group than 美妆
    const mixed = await apiAs<{ ok: boolean; errors: { nodeId: string; code: string }[] }>(
      ADMIN4,
      '/api/rules/preview',
      json({ graph: band(SOUTH_TAG), sampleSize: 0 }),
    );
    expect(mixed.body.ok).toBe(false);
    expect(mixed.body.errors.map((e) => [e.nodeId, e.code])).toEqual([
      ['b', 'band_group'],
      ['b', 'band_group'],
    ]);
  });

  it("refuses a group owned by another department, and lets that department's admin use it", async () => {
    const refused = await apiAs(ADMIN2, '/api/rules', json({ name: '跨部门', graph: actionGraph(SOUTH_TAG) }));
    expect(refused.status).toBe(403);
    expect(refused.body.error.details[0]).toEqual({ path: 'graph.nodes.a', message: expect.stringContaining('another department') });
    expect((await apiAs(ADMIN4, '/api/rules', json({ name: '本部门', graph: actionGraph(SOUTH_TAG) }))).status).toBe(201);
  });

  it('refuses publishing a draft someone else saved with a tag the publisher may not apply: nothing is written', async () => {
    const created = await api<RuleDetail>(
      '/api/rules',
      json({ name: '超管写的草稿', departmentId: 2, graph: scheduleGraph(SUPER_ONLY_TAG) }),
    );
    expect(created.status).toBe(201);
    const p = await apiAs<RulePreviewResponse>(
      ADMIN2,
      '/api/rules/preview',
      json({ graph: created.body.draftGraph, ruleId: created.body.id, rolloutPercent: 100, sampleSize: 0 }),
    );
    if (!p.body.ok) throw new Error('preview failed');
    const res = await apiAs(
      ADMIN2,
      `/api/rules/${created.body.id}/publish`,
      json({ rolloutPercent: 100, graphHash: p.body.graphHash, expected: expectedOf(p.body.counts), confirm: true }),
    );
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual([{ path: 'graph.nodes.a', message: expect.stringContaining('生命周期') }]);
    expect(
      (await db.prepare('SELECT count(*) AS n FROM rule_versions WHERE rule_id = ?').bind(created.body.id).first<{ n: number }>())!.n,
    ).toBe(0);
    expect(
      (await db.prepare('SELECT count(*) AS n FROM tag_ledger WHERE rule_id = ?').bind(created.body.id).first<{ n: number }>())!.n,
    ).toBe(0);
    // and duplicating it does not hand the admin a copy either
    expect((await apiAs(ADMIN2, `/api/rules/${created.body.id}/duplicate`, json({}))).status).toBe(403);
  });

  it('refuses restoring a version whose tags the user may not apply', async () => {
    const created = await api<RuleDetail>('/api/rules', json({ name: '超管发布', departmentId: 2, graph: actionGraph(SUPER_ONLY_TAG) }));
    await publishExisting(
      { id: 9001, role: 'super_admin', departmentId: null, email: 'root@segflow.test' },
      created.body.id,
      actionGraph(SUPER_ONLY_TAG),
    );
    await api(`/api/rules/${created.body.id}/draft`, json({ graph: actionGraph(ADMIN_TAG) }, 'PUT'));
    const res = await apiAs(ADMIN2, `/api/rules/${created.body.id}/versions/1/restore`, json({}));
    expect(res.status).toBe(403);
    expect(res.body.error.details[0].path).toBe('graph.nodes.a');
    const draft = await db.prepare('SELECT draft_graph FROM rules WHERE id = ?').bind(created.body.id).first<{ draft_graph: string }>();
    expect(JSON.parse(draft!.draft_graph).nodes[2].action.tagId).toBe(ADMIN_TAG);
  });
});

const LOSSES: { what: string; why: string; lose: () => Promise<unknown> }[] = [
  {
    what: 'the publisher is demoted to staff',
    why: 'apply_role',
    lose: () => db.prepare(`UPDATE users SET role = 'staff' WHERE id = ?`).bind(ADMIN2.id).run(),
  },
  {
    what: 'the publisher is disabled',
    why: 'user_disabled',
    lose: () => db.prepare(`UPDATE users SET disabled = 1 WHERE id = ?`).bind(ADMIN2.id).run(),
  },
  {
    what: 'the publisher moves to another department',
    why: 'rule_department',
    lose: () => db.prepare(`UPDATE users SET department_id = 4 WHERE id = ?`).bind(ADMIN2.id).run(),
  },
  {
    what: "the group's apply_role is raised",
    why: 'apply_role',
    lose: () => db.prepare(`UPDATE tag_groups SET apply_role = 'super_admin' WHERE id = 2`).run(),
  },
  {
    what: 'the group is given to another department',
    why: 'group_department',
    lose: () => db.prepare(`UPDATE tag_groups SET department_id = 4 WHERE id = 2`).run(),
  },
  {
    what: 'the tag moves to a group only super admins apply',
    why: 'apply_role',
    lose: () => db.prepare(`UPDATE tags SET group_id = 1 WHERE id = 3`).run(),
  },
];

describe("webhook runs use the publisher's rights", () => {
  it.each(LOSSES)('pauses the rule instead of running it when $what', async ({ what, why, lose }) => {
    const id = await publishAs(ADMIN2, `询价 ${what}`, actionGraph(ADMIN_TAG));
    // with the rights intact, the event tags 李娜
    expect(await priceQuestion()).toBe(202);
    expect(await holds(2, ADMIN_TAG)).toBe(true);
    await db.prepare('DELETE FROM contact_tags WHERE tag_id = 3 AND contact_id = 2').run();

    await lose();
    expect(await priceQuestion()).toBe(202);
    expect(await holds(2, ADMIN_TAG)).toBe(false);
    const row = await ruleRow(id);
    expect(row!.status).toBe('paused');
    expect(JSON.parse(row!.paused_reason!)).toMatchObject({
      kind: 'rights_lost',
      version: 1,
      user: { id: ADMIN2.id },
      problems: [{ nodeId: 'a', tagId: ADMIN_TAG, why }],
    });

    // the list says why (as a super admin: the publisher may have lost the department)
    const list = await api<RuleListResponse>('/api/rules?status=paused');
    const item = list.body.items.find((r) => r.id === id)!;
    expect(item.pausedReason).toMatchObject({ kind: 'rights_lost', problems: [{ nodeId: 'a', why }] });
    // one audit row, by the system, in the same batch as the pause
    const audit = await db
      .prepare(`SELECT actor_user_id, after FROM audit_log WHERE action = 'rule.pause' AND object_id = ?`)
      .bind(String(id))
      .all<{ actor_user_id: number | null; after: string }>();
    expect(audit.results).toHaveLength(1);
    expect(audit.results[0]!.actor_user_id).toBeNull();
    expect(JSON.parse(audit.results[0]!.after).reason.problems[0].why).toBe(why);
    // another event neither runs it nor pauses it again
    expect(await priceQuestion()).toBe(202);
    expect(await holds(2, ADMIN_TAG)).toBe(false);
    expect(
      (await db
        .prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'rule.pause' AND object_id = ?`)
        .bind(String(id))
        .first<{ n: number }>())!.n,
    ).toBe(1);
  });

  it("resuming needs the publisher's rights; publishing again runs it on the new publisher's", async () => {
    const id = await publishAs(ADMIN2, '询价 恢复', actionGraph(ADMIN_TAG));
    await db.prepare(`UPDATE users SET role = 'staff' WHERE id = ?`).bind(ADMIN2.id).run();
    await priceQuestion();
    expect((await ruleRow(id))!.status).toBe('paused');
    const resumed = await api(`/api/rules/${id}/resume`, json({}));
    expect(resumed.status).toBe(409);
    expect(resumed.body.error.details[0].path).toBe('graph.nodes.a');
    expect((await ruleRow(id))!.status).toBe('paused');

    const again = await publishExisting(
      { id: 9001, role: 'super_admin', departmentId: null, email: 'root@segflow.test' },
      id,
      actionGraph(ADMIN_TAG),
    );
    expect(again.rule.status).toBe('published');
    expect(again.rule.pausedReason).toBeNull();
    await priceQuestion();
    expect(await holds(2, ADMIN_TAG)).toBe(true);
    expect((await ruleRow(id))!.status).toBe('published');
  });

  it('costs no extra D1 round trip while the rights hold, and one more batch on the run that pauses', async () => {
    const id = await publishAs(ADMIN2, '询价 往返', actionGraph(ADMIN_TAG));
    // every round trip to D1: batches, and statements run on their own
    let batches = 0;
    const wrap = (st: D1PreparedStatement): D1PreparedStatement => {
      const target = st as unknown as Record<string, (...a: unknown[]) => unknown>;
      for (const m of ['first', 'all', 'run', 'raw']) {
        const f = target[m]!.bind(st);
        target[m] = (...a: unknown[]) => {
          batches++;
          return f(...a);
        };
      }
      const bind = st.bind.bind(st);
      st.bind = (...a: unknown[]) => wrap(bind(...a));
      return st;
    };
    const counted = new Proxy(db, {
      get(target, prop) {
        if (prop === 'prepare') return (sql: string) => wrap(target.prepare(sql));
        if (prop === 'batch') {
          return (stmts: D1PreparedStatement[]) => {
            batches++;
            return target.batch(stmts);
          };
        }
        return Reflect.get(target, prop).bind(target);
      },
    });
    const run = (n: number) =>
      ingest(
        counted,
        [{ id: `rt-${id}-${n}`, type: 'message', occurredAt: Date.now() - 1000, contact: { externalId: 'wxid_b' }, text: '价格' }],
        {
          sourceId: 'shop',
          now: Date.now(),
          tzOffsetMinutes: 480,
          defaultKind: 'friend',
          batchId: `rt-${id}-${n}`,
        },
      );
    await run(1); // warms the isolate's compiled-rule cache
    batches = 0;
    await run(2);
    expect(batches).toBe(2); // the read batch and the write batch
    await db.prepare(`UPDATE users SET disabled = 1 WHERE id = ?`).bind(ADMIN2.id).run();
    batches = 0;
    await run(3);
    // plus the pause, and the reload of tag facts that any change of the published list costs once
    expect(batches).toBe(4);
    expect((await ruleRow(id))!.status).toBe('paused');
  });
});

describe("cron runs use the publisher's rights", () => {
  it('runs a scheduled rule while its publisher may apply the tag, and pauses it once they may not', async () => {
    // 陈静 (contact 5, 总部) is outside 华东大区: only 张伟 (1) and 李娜 (2) are the rule's; 张伟 spent enough
    const id = await publishAs(ADMIN2, '高消费 定时', scheduleGraph(ADMIN_TAG));
    expect(await holds(1, ADMIN_TAG)).toBe(true);
    await db.prepare('DELETE FROM contact_tags WHERE tag_id = 3 AND contact_id = 1').run();
    const at = Date.now();
    const ran = await runScheduled(env, at);
    expect(ran.rules.map((r) => r.id)).toContain(id);
    expect(await holds(1, ADMIN_TAG)).toBe(true);

    await db.prepare('DELETE FROM contact_tags WHERE tag_id = 3 AND contact_id = 1').run();
    await db.prepare(`UPDATE users SET role = 'staff' WHERE id = ?`).bind(ADMIN2.id).run();
    const paused = await runScheduled(env, at + 60_000);
    expect(paused.rules.map((r) => r.id)).not.toContain(id);
    expect(paused.paused).toEqual([{ id, version: 1 }]);
    expect(await holds(1, ADMIN_TAG)).toBe(false);
    expect((await ruleRow(id))!.status).toBe('paused');
    // pausing by hand later clears the reason; resuming needs the rights back
    await apiAs(ADMIN2, '/api/auth/me'); // sessionHeaders restores ADMIN2 as a dept admin
    const resumed = await apiAs(ADMIN2, `/api/rules/${id}/resume`, json({}));
    expect(resumed.status).toBe(200);
    expect(resumed.body.pausedReason).toBeNull();
  });
});
