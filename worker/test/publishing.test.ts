/**
 * Safe publishing over the small world: a publish scheduled at a local time is published by the
 * cron once (even when two ticks overlap) as its requester; a changed draft or lost rights refuse
 * with a recorded reason; a ramp's steps go in order and pause while an alert names the rule; a
 * department's approval policy turns a department admin's publish into a request only a super
 * admin can approve, and what is approved is what was requested.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectedOf, type RulePreviewOk } from '@shared/api/rules';
import { msToLocalTime, type PlanDetail, type PlanItem, type PlanList } from '@shared/api/publishing';
import type { RuleGraph } from '@shared/rules/types';
import { api, apiAs, seedSmallWorld, type TestUser } from './fixtures';
import { runScheduled } from '../src/cron/scheduled';
import { runDuePlans } from '../src/publishing/schedule';
import { tzOffsetMinutes } from '../src/rules/context';

const db = env.DB;
const ADMIN: TestUser = { id: 9201, role: 'dept_admin', departmentId: 2 };
const STAFF: TestUser = { id: 9202, role: 'staff', departmentId: 2 };
const MIN = 60_000;
const TZ = tzOffsetMinutes(env);
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Schedule → spend ≥ `min` fen → add 美妆 (tag 3, a company-wide group staff may apply). */
const graph = (min = 1): RuleGraph => ({
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 1 1 *' } },
    { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: min } },
    { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 3 } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'c' },
    { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
  ],
});

let seq = 0;
/** A draft rule of 华东 (department 2), created by its department admin. */
async function newRule(g = graph()): Promise<number> {
  const r = await apiAs(ADMIN, '/api/rules', json({ name: `计划${++seq}`, graph: g }));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}

/** What a plan request confirms: the preview of the saved draft at `percent`. */
async function confirmed(ruleId: number, percent: number, g = graph()) {
  const p = (await apiAs(ADMIN, '/api/rules/preview', json({ graph: g, ruleId, rolloutPercent: percent, sampleSize: 0 })))
    .body as RulePreviewOk;
  return { ruleId, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true as const };
}

const local = (ms: number) => msToLocalTime(ms, TZ);
/** A minute boundary comfortably in the future (local times are to the minute). */
const future = (minutes: number) => Math.ceil((Date.now() + minutes * MIN) / MIN) * MIN;

async function plan(id: number, as: TestUser = ADMIN): Promise<PlanDetail> {
  const r = await apiAs<PlanDetail>(as, `/api/publishing/plans/${id}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}
const versions = async (ruleId: number) =>
  (
    await db
      .prepare('SELECT version, rollout_percent, created_by, graph FROM rule_versions WHERE rule_id = ? ORDER BY version')
      .bind(ruleId)
      .all<{ version: number; rollout_percent: number; created_by: number; graph: string }>()
  ).results;
const auditActions = async (ruleId: number) =>
  (
    await db
      .prepare("SELECT action FROM audit_log WHERE object_type = 'rule' AND object_id = ? ORDER BY id")
      .bind(String(ruleId))
      .all<{ action: string }>()
  ).results.map((r) => r.action);

beforeAll(async () => {
  await seedSmallWorld();
  for (const u of [ADMIN, STAFF]) await apiAs(u, '/api/auth/me');
});

describe('scheduled publish', () => {
  it('the cron publishes a due schedule once, as the requester, even when two ticks overlap', async () => {
    const ruleId = await newRule();
    const at = future(30);
    const created = await apiAs<PlanItem>(
      ADMIN,
      '/api/publishing/plans',
      json({ ...(await confirmed(ruleId, 100)), steps: [{ percent: 100, at: local(at) }] }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ state: 'scheduled', nextStep: 0, steps: [{ percent: 100, at, version: null }] });
    expect(created.body.preview.tags).toEqual([{ tagId: 3, gain: 2, lose: 0, kept: 0 }]);

    // a tick before its time publishes nothing
    expect((await runScheduled(env, at - MIN)).publishing?.published).toEqual([]);
    expect(await versions(ruleId)).toEqual([]);

    // two ticks at once: one publishes, the other finds the step taken
    const [a, b] = await Promise.all([runDuePlans(env, at), runDuePlans(env, at)]);
    expect(a.published.length + b.published.length).toBe(1);
    expect([...a.refused, ...b.refused, ...a.errors, ...b.errors]).toEqual([]);
    // and a later tick has nothing left to do
    expect((await runScheduled(env, at + MIN)).publishing?.published).toEqual([]);

    const vs = await versions(ruleId);
    expect(vs.map((v) => [v.version, v.rollout_percent, v.created_by])).toEqual([[1, 100, ADMIN.id]]);
    const tagged = await db
      .prepare('SELECT contact_id FROM tag_ledger WHERE rule_id = ? ORDER BY contact_id')
      .bind(ruleId)
      .all<{ contact_id: number }>();
    expect(tagged.results.map((r) => r.contact_id)).toEqual([1, 2]);
    expect(await db.prepare('SELECT status, published_version FROM rules WHERE id = ?').bind(ruleId).first()).toEqual({
      status: 'published',
      published_version: 1,
    });
    const done = await plan(created.body.id);
    expect(done).toMatchObject({ state: 'done', nextStep: 1, steps: [{ percent: 100, version: 1 }] });
    expect(await auditActions(ruleId)).toEqual(['rule.create', 'publish_plan.create', 'publish_plan.step', 'rule.publish']);
  });

  it('refuses with a recorded reason when the draft changed since scheduling', async () => {
    const ruleId = await newRule();
    const at = future(30);
    const created = await apiAs<PlanItem>(
      ADMIN,
      '/api/publishing/plans',
      json({ ...(await confirmed(ruleId, 100)), steps: [{ percent: 100, at: local(at) }] }),
    );
    expect(created.status).toBe(201);
    expect((await apiAs(ADMIN, `/api/rules/${ruleId}/draft`, json({ graph: graph(50_000) }, 'PUT'))).status).toBe(200);
    const report = await runDuePlans(env, at);
    expect(report.refused).toEqual([{ planId: created.body.id, step: 0, code: 'draft_changed' }]);
    const p = await plan(created.body.id);
    expect(p.state).toBe('failed');
    expect(p.reason).toMatchObject({ code: 'draft_changed', step: 0 });
    expect(p.reason?.message).toMatch(/draft changed/);
    expect(await versions(ruleId)).toEqual([]);
    expect(await auditActions(ruleId)).toContain('publish_plan.refuse');
    // a refusal is final: nothing is retried
    expect((await runDuePlans(env, at + MIN)).refused).toEqual([]);
  });

  it('refuses when the requester lost their rights before it ran', async () => {
    const LEAVER: TestUser = { id: 9203, role: 'dept_admin', departmentId: 2 };
    const ruleId = await newRule();
    const at = future(30);
    const body = { ...(await confirmed(ruleId, 100)), steps: [{ percent: 100, at: local(at) }] };
    const created = await apiAs<PlanItem>(LEAVER, '/api/publishing/plans', json(body));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // moved to 华南: no longer holds the rule's department
    await db.prepare('UPDATE users SET department_id = 4 WHERE id = ?').bind(LEAVER.id).run();
    const report = await runDuePlans(env, at);
    expect(report.refused).toEqual([{ planId: created.body.id, step: 0, code: 'rights_lost' }]);
    const p = await plan(created.body.id);
    expect(p).toMatchObject({ state: 'failed', reason: { code: 'rights_lost' } });
    expect(await versions(ruleId)).toEqual([]);
  });

  it('answers 4xx naming the problem: times in the past or that do not exist, bad steps, staff, a second live plan', async () => {
    const ruleId = await newRule();
    const base = await confirmed(ruleId, 100);
    const post = (b: unknown, as: TestUser = ADMIN) => apiAs(as, '/api/publishing/plans', json(b));
    const past = await post({ ...base, steps: [{ percent: 100, at: local(Date.now() - 10 * MIN) }] });
    expect(past.status).toBe(400);
    expect(past.body.error.details).toEqual([{ path: 'steps.0.at', message: 'must be in the future' }]);
    const feb30 = await post({ ...base, steps: [{ percent: 100, at: '2099-02-30T09:00' }] });
    expect(feb30.status).toBe(400);
    expect(feb30.body.error.details[0].path).toBe('steps.0.at');
    const badFormat = await post({ ...base, steps: [{ percent: 100, at: 'tomorrow' }] });
    expect(badFormat.status).toBe(400);
    const falling = await post({ ...base, steps: [{ percent: 50 }, { percent: 10, at: local(future(60)) }] });
    expect(falling.status).toBe(400);
    expect(JSON.stringify(falling.body.error.details)).toContain('steps.1.percent');
    const noTime = await post({ ...base, steps: [{ percent: 10 }, { percent: 50 }] });
    expect(noTime.status).toBe(400);
    expect(JSON.stringify(noTime.body.error.details)).toContain('steps.1.at');
    expect((await post({ ...base, steps: [] })).status).toBe(400);
    expect((await post({ ...base, steps: [{ percent: 100, at: local(future(30)) }], extra: 1 })).status).toBe(400);
    expect((await post({ ...base, steps: [{ percent: 100, at: local(future(30)) }] }, STAFF)).status).toBe(403);
    // stale counts are refused as publishing refuses them
    const stale = await post({ ...base, expected: { 3: { gain: 99, lose: 0 } }, steps: [{ percent: 100, at: local(future(30)) }] });
    expect(stale.status).toBe(409);
    const first = await post({ ...base, steps: [{ percent: 100, at: local(future(30)) }] });
    expect(first.status).toBe(201);
    const second = await post({ ...base, steps: [{ percent: 100, at: local(future(40)) }] });
    expect(second.status).toBe(409);
    // cancelled: nothing runs, and the rule is free again
    expect((await apiAs(ADMIN, `/api/publishing/plans/${first.body.id}/cancel`, json({}))).body.state).toBe('cancelled');
    expect((await apiAs(STAFF, `/api/publishing/plans/${first.body.id}/cancel`, json({}))).status).toBe(403);
    expect((await runDuePlans(env, future(31))).published.filter((p) => p.ruleId === ruleId)).toEqual([]);
    expect((await post({ ...base, steps: [{ percent: 100, at: local(future(40)) }] })).status).toBe(201);
  });
});

describe('ramps', () => {
  it('applies the steps in order through the rollout path, pauses while an alert names the rule, resumes by hand', async () => {
    const ruleId = await newRule();
    const t1 = future(60);
    const t2 = future(24 * 60);
    const created = await apiAs<PlanItem>(
      ADMIN,
      '/api/publishing/plans',
      json({ ...(await confirmed(ruleId, 10)), steps: [{ percent: 10 }, { percent: 50, at: local(t1) }, { percent: 100, at: local(t2) }] }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // the first step had no time: published within the request
    expect(created.body).toMatchObject({ state: 'scheduled', nextStep: 1 });
    expect((await versions(ruleId)).map((v) => v.rollout_percent)).toEqual([10]);

    // both later times have passed by this tick: still one step at a time, in order
    await runScheduled(env, t2 + MIN);
    expect((await versions(ruleId)).map((v) => v.rollout_percent)).toEqual([10, 50]);

    // an alert on the rule is raised: the ramp stops before its last step
    const alertRule = await db
      .prepare(
        `INSERT INTO alert_rules (name, kind, rule_id, threshold, department_id, checked_at, created_at, updated_at)
         VALUES ('规则停止触发', 'rule_silent', ?, 24, 2, 1, 1, 1) RETURNING id`,
      )
      .bind(ruleId)
      .first<number>('id');
    await db
      .prepare(`INSERT INTO alerts (alert_rule_id, kind, state, measured, raised_at) VALUES (?, 'rule_silent', 'open', '{}', ?)`)
      .bind(alertRule, Date.now())
      .run();
    const paused = await runDuePlans(env, t2 + 2 * MIN);
    expect(paused.paused).toHaveLength(1);
    expect(paused.published).toEqual([]);
    const p = await plan(created.body.id);
    expect(p).toMatchObject({ state: 'paused', nextStep: 2, reason: { code: 'alert', step: 2 } });
    expect((await runDuePlans(env, t2 + 3 * MIN)).published).toEqual([]);
    expect((await versions(ruleId)).map((v) => v.rollout_percent)).toEqual([10, 50]);

    // resumed by hand (staff may not): the open alert no longer holds it
    expect((await apiAs(STAFF, `/api/publishing/plans/${created.body.id}/resume`, json({}))).status).toBe(403);
    expect((await apiAs(ADMIN, `/api/publishing/plans/${created.body.id}/resume`, json({}))).body.state).toBe('scheduled');
    await runDuePlans(env, t2 + 4 * MIN);
    expect((await versions(ruleId)).map((v) => v.rollout_percent)).toEqual([10, 50, 100]);
    expect((await plan(created.body.id)).state).toBe('done');
    const actions = await auditActions(ruleId);
    expect(actions.filter((a) => a === 'publish_plan.step')).toHaveLength(3);
    expect(actions).toContain('publish_plan.pause');
    expect(actions).toContain('publish_plan.resume');
  });
  it('pauses when an alert names a segment that tests a tag the rule writes, not for an unrelated segment', async () => {
    const ruleId = await newRule();
    const t1 = future(60);
    const created = await apiAs<PlanItem>(
      ADMIN,
      '/api/publishing/plans',
      json({ ...(await confirmed(ruleId, 10)), steps: [{ percent: 10 }, { percent: 100, at: local(t1) }] }),
    );
    expect(created.body.nextStep).toBe(1);
    const segmentOn = async (name: string, tagId: number) => {
      const seg = await api(
        '/api/segments',
        json({
          name,
          graph: {
            schemaVersion: 1,
            nodes: [
              { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } },
              { id: 'h', kind: 'condition', condition: { field: 'tags', op: 'has', value: tagId } },
              { id: 'end', kind: 'logic', op: 'or' },
            ],
            edges: [
              { id: 'e1', source: 'start', target: 'h' },
              { id: 'e2', source: 'h', target: 'end', sourceHandle: 'yes' },
            ],
          },
        }),
      );
      expect(seg.status, JSON.stringify(seg.body)).toBe(201);
      const alertRule = await db
        .prepare(
          `INSERT INTO alert_rules (name, kind, segment_id, threshold, checked_at, created_at, updated_at)
           VALUES (?, 'segment_drop', ?, 30, 1, 1, 1) RETURNING id`,
        )
        .bind(`${name}骤降`, seg.body.id)
        .first<number>('id');
      await db
        .prepare(`INSERT INTO alerts (alert_rule_id, kind, state, measured, raised_at) VALUES (?, 'segment_drop', 'open', '{}', ?)`)
        .bind(alertRule, Date.now())
        .run();
    };
    // a segment of another tag (抗老, 5): nothing to do with this rule
    await segmentOn('抗老人群', 5);
    expect((await runDuePlans(env, t1 - MIN)).paused.filter((p) => p.planId === created.body.id)).toEqual([]);
    // a segment of 美妆 (3), which the rule adds: its drop pauses the ramp
    await segmentOn('美妆人群', 3);
    const report = await runDuePlans(env, t1);
    expect(report.paused.filter((p) => p.planId === created.body.id)).toHaveLength(1);
    expect(report.published.filter((p) => p.planId === created.body.id)).toEqual([]);
    expect(await plan(created.body.id)).toMatchObject({
      state: 'paused',
      reason: { code: 'alert', message: 'alert "美妆人群骤降" was raised' },
    });
    expect((await versions(ruleId)).map((v) => v.rollout_percent)).toEqual([10]);
  });
});

describe('approval policy', () => {
  it('a department admin’s publish waits; only a super admin approves; the approved version is the requested one', async () => {
    // only super admins change the policy
    expect((await apiAs(ADMIN, '/api/publishing/policies/2', json({ requireApproval: true }, 'PUT'))).status).toBe(403);
    const on = await api('/api/publishing/policies/2', json({ requireApproval: true }, 'PUT'));
    expect(on.body).toMatchObject({ departmentId: 2, requireApproval: true });

    // a rule of 上海一组 (below 华东): the policy covers the subtree
    const ruleId = await newRule();
    await db.prepare('UPDATE rules SET department_id = 3 WHERE id = ?').bind(ruleId).run();
    const body = await confirmed(ruleId, 100);
    const direct = await apiAs(
      ADMIN,
      `/api/rules/${ruleId}/publish`,
      json({ rolloutPercent: 100, graphHash: body.graphHash, expected: body.expected, confirm: true }),
    );
    expect(direct.status).toBe(409);
    expect(direct.body.error.code).toBe('approval_required');

    const requested = await apiAs<PlanItem>(ADMIN, '/api/publishing/plans', json({ ...body, steps: [{ percent: 100 }] }));
    expect(requested.status, JSON.stringify(requested.body)).toBe(201);
    expect(requested.body).toMatchObject({ state: 'awaiting_approval', canDecide: false });
    expect(await versions(ruleId)).toEqual([]);
    // the cron does not publish what waits for approval
    expect((await runDuePlans(env, Date.now() + MIN)).published.filter((p) => p.ruleId === ruleId)).toEqual([]);

    // staff and the department admin may not approve
    expect((await apiAs(STAFF, `/api/publishing/plans/${requested.body.id}/approve`, json({}))).status).toBe(403);
    expect((await apiAs(ADMIN, `/api/publishing/plans/${requested.body.id}/approve`, json({}))).status).toBe(403);
    expect((await apiAs(ADMIN, `/api/publishing/plans/${requested.body.id}/reject`, json({ reason: '不行' }))).status).toBe(403);

    // the approver sees the preview as requested and the diff to the current (none: every node is new)
    const seen = await api<PlanDetail>(`/api/publishing/plans/${requested.body.id}`);
    expect(seen.body).toMatchObject({ canDecide: true, currentVersion: null, preview: { rolloutPercent: 100 } });
    expect(expectedOf(seen.body.preview)).toEqual(body.expected);
    expect(seen.body.compare.diff.added.sort()).toEqual(['a', 'c', 't']);
    expect((await api<PlanList>('/api/publishing/plans?state=awaiting_approval')).body.items.map((i) => i.id)).toContain(requested.body.id);

    const approved = await api<PlanItem>(`/api/publishing/plans/${requested.body.id}/approve`, json({}));
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ state: 'done', decidedBy: { id: 9001 } });
    const [v] = await versions(ruleId);
    expect(v).toMatchObject({ version: 1, rollout_percent: 100, created_by: ADMIN.id });
    expect(JSON.parse(v!.graph)).toEqual(JSON.parse(JSON.stringify(graph())));
    expect((await plan(requested.body.id)).state).toBe('done');
    // approving twice is a conflict
    expect((await api(`/api/publishing/plans/${requested.body.id}/approve`, json({}))).status).toBe(409);

    // a second request, changed after the request: approving it is refused, rejecting tells why
    const v2 = graph(50_000);
    expect((await apiAs(ADMIN, `/api/rules/${ruleId}/draft`, json({ graph: v2 }, 'PUT'))).status).toBe(200);
    const again = await apiAs<PlanItem>(
      ADMIN,
      '/api/publishing/plans',
      json({ ...(await confirmed(ruleId, 100, v2)), steps: [{ percent: 100 }] }),
    );
    expect(again.body.state).toBe('awaiting_approval');
    const diff = await api<PlanDetail>(`/api/publishing/plans/${again.body.id}`);
    expect(diff.body.currentVersion).toBe(1);
    expect(diff.body.compare.diff.changed).toEqual(['c']);
    expect((await api(`/api/publishing/plans/${again.body.id}/reject`, json({ reason: ' ' }))).status).toBe(400);
    const rejected = await api<PlanItem>(`/api/publishing/plans/${again.body.id}/reject`, json({ reason: '门槛太高，先别上' }));
    expect(rejected.body).toMatchObject({ state: 'rejected', reason: { code: 'rejected', message: '门槛太高，先别上' } });
    const mine = await apiAs<PlanList>(ADMIN, `/api/publishing/plans?state=all&ruleId=${ruleId}`);
    expect(mine.body.items.map((i) => i.state)).toEqual(['rejected', 'done']);

    // super admins' own publishes are not gated
    const direct2 = await api(
      `/api/rules/${ruleId}/publish`,
      json({ rolloutPercent: 100, ...(await confirmed(ruleId, 100, v2)), ruleId: undefined }),
    );
    expect(direct2.status, JSON.stringify(direct2.body)).toBe(200);
    await api('/api/publishing/policies/2', json({ requireApproval: false }, 'PUT'));
  });
});
