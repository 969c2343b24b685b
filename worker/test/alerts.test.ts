/**
 * Alerts (issue 17): raised by the cron from snapshots, the ledger and intake; one alert per
 * episode; acknowledged and muted with an audit row; scoped like rules and segments; sent once
 * through an outbound destination. Real D1 with the real migrations; evaluation at explicit times.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { api, apiAs, newDeadLetter, seedSmallWorld, type TestUser } from './fixtures';
import { evaluateAlerts } from '../src/alerts/evaluate';
import { runScheduled } from '../src/cron/scheduled';
import { tzOffsetMinutes } from '../src/rules/context';
import { dayNumber, DAY_MS } from '@shared/time';
import type { AlertItem, AlertList, AlertRuleItem } from '@shared/api/alerts';
import type { DeliveryMessage } from '../src/outbound/enqueue';

const db = env.DB;
const HOUR = 3_600_000;
/** 2026-11-24 10:00 in Shanghai. */
const AT = Date.UTC(2026, 10, 24, 2, 0);
const TODAY = dayNumber(AT, tzOffsetMinutes(env));
const EAST_ADMIN: TestUser = { id: 9201, role: 'dept_admin', departmentId: 2 };
const SOUTH_ADMIN: TestUser = { id: 9202, role: 'dept_admin', departmentId: 4 };
const EAST_STAFF: TestUser = { id: 9203, role: 'staff', departmentId: 2 };

const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

let seq = 0;
async function newSegment(departmentId: number | null, sizes: Record<number, number>): Promise<number> {
  const id = (await db
    .prepare(
      `INSERT INTO segments (name, department_id, graph, logic, created_at, updated_at) VALUES (?, ?, '{"schemaVersion":1,"nodes":[],"edges":[]}', 'null', 1, 1) RETURNING id`,
    )
    .bind(`分群${++seq}`, departmentId)
    .first<number>('id'))!;
  for (const [day, size] of Object.entries(sizes)) await snapshot(id, Number(day), size);
  return id;
}
const snapshot = (segmentId: number, day: number, size: number) =>
  db
    .prepare('INSERT INTO segment_snapshots (segment_id, day, size) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET size = excluded.size')
    .bind(segmentId, day, size)
    .run();

async function newRule(opts: { status?: string; publishedAt?: number; pausedReason?: string } = {}): Promise<number> {
  const id = (await db
    .prepare(
      `INSERT INTO rules (name, department_id, status, draft_graph, published_version, paused_reason, created_at, updated_at)
       VALUES (?, 2, ?, '{}', 1, ?, 1, 1) RETURNING id`,
    )
    .bind(`规则${++seq}`, opts.status ?? 'published', opts.pausedReason ?? null)
    .first<number>('id'))!;
  await db
    .prepare(
      `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, created_at, published_at) VALUES (?, 1, '{}', 'false', 'schedule', 1, ?)`,
    )
    .bind(id, opts.publishedAt ?? 1)
    .run();
  return id;
}
const ledgerRow = (ruleId: number, at: number) =>
  db
    .prepare(`INSERT INTO tag_ledger (contact_id, tag_id, op, source, rule_id, rule_version, at) VALUES (1, 3, 'add', 'rule', ?, 1, ?)`)
    .bind(ruleId, at)
    .run();

async function createRule(body: Record<string, unknown>, user?: TestUser): Promise<AlertRuleItem> {
  const r = user ? await apiAs(user, '/api/alerts/rules', json(body)) : await api('/api/alerts/rules', json(body));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as AlertRuleItem;
}
const alertsOf = async (ruleId: number) => (await api<AlertList>(`/api/alerts?state=all&alertRuleId=${ruleId}&pageSize=100`)).body.items;
const auditOf = async (action: string, objectId: number) =>
  (
    await db
      .prepare('SELECT actor_user_id, params FROM audit_log WHERE action = ? AND object_id = ?')
      .bind(action, String(objectId))
      .all<{ actor_user_id: number; params: string }>()
  ).results;

beforeAll(async () => {
  await seedSmallWorld();
});
afterEach(() => vi.restoreAllMocks());

describe('a segment that drops', () => {
  it('raises one alert for a 40% drop, is acknowledged (audited), stays quiet while muted and raises again after unmute', async () => {
    const segment = await newSegment(2, { [TODAY - 1]: 1000, [TODAY]: 600 });
    const rule = await createRule({ name: '高价值客户骤降', kind: 'segment_drop', segmentId: segment, threshold: 30 });
    expect(rule.target).toMatchObject({ type: 'segment', id: segment });
    expect(rule.departmentId).toBe(2);

    // the cron's own entry raises it
    const report = await runScheduled(env, AT);
    expect(report.alerts?.raised).toBeGreaterThanOrEqual(1);
    let list = await alertsOf(rule.id);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      state: 'open',
      kind: 'segment_drop',
      clearedAt: null,
      target: { type: 'segment', id: segment },
      measured: { previous: 1000, current: 600, changePct: -40, threshold: 30, day: TODAY },
    });

    // the condition still holds a minute later: the same episode, no second alert
    await evaluateAlerts(env, AT + 60_000);
    expect(await alertsOf(rule.id)).toHaveLength(1);

    const ack = await api<AlertItem>(`/api/alerts/${list[0]!.id}/ack`, json({}));
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ state: 'acknowledged', acknowledgedBy: { id: 9001 } });
    expect(await auditOf('alert.acknowledge', list[0]!.id)).toEqual([
      { actor_user_id: 9001, params: JSON.stringify({ name: '高价值客户骤降', alert: list[0]!.id }) },
    ]);
    expect((await api(`/api/alerts/${list[0]!.id}/ack`, json({}))).status).toBe(409);

    // acknowledged, the episode goes on: nothing new while it still holds
    await evaluateAlerts(env, AT + 2 * 60_000);
    expect(await alertsOf(rule.id)).toHaveLength(1);

    const muted = await api<AlertRuleItem>(`/api/alerts/rules/${rule.id}/mute`, json({}));
    expect(muted.status).toBe(200);
    expect(muted.body).toMatchObject({ muted: true, mutedUntil: null });
    expect(await auditOf('alert_rule.mute', rule.id)).toHaveLength(1);

    // next day it recovers: the episode ends
    await snapshot(segment, TODAY + 1, 1000);
    await evaluateAlerts(env, AT + DAY_MS);
    list = await alertsOf(rule.id);
    expect(list).toHaveLength(1);
    expect(list[0]!.clearedAt).toBe(AT + DAY_MS);

    // the day after it drops again (50%): a new episode, but muted — nothing raised
    await snapshot(segment, TODAY + 2, 500);
    await evaluateAlerts(env, AT + 2 * DAY_MS);
    expect(await alertsOf(rule.id)).toHaveLength(1);

    const unmuted = await api<AlertRuleItem>(`/api/alerts/rules/${rule.id}/unmute`, json({}));
    expect(unmuted.status).toBe(200);
    expect(unmuted.body.muted).toBe(false);
    expect(await auditOf('alert_rule.unmute', rule.id)).toHaveLength(1);

    await evaluateAlerts(env, AT + 2 * DAY_MS + 60_000);
    list = await alertsOf(rule.id);
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ state: 'open', measured: { previous: 1000, current: 500, changePct: -50 } });
  });

  it('a mute until a time stops raising only until then', async () => {
    // the mute route reads the clock: this test lives at the real now
    const now = Date.now();
    const today = dayNumber(now, tzOffsetMinutes(env));
    const segment = await newSegment(2, { [today - 1]: 200, [today]: 100 });
    const rule = await createRule({ name: '限时静音', kind: 'segment_drop', segmentId: segment, threshold: 10 });
    const until = now + 10 * 60_000;
    expect((await api(`/api/alerts/rules/${rule.id}/mute`, json({ until }))).status).toBe(200);
    await evaluateAlerts(env, until - 1);
    expect(await alertsOf(rule.id)).toHaveLength(0);
    await evaluateAlerts(env, until);
    expect(await alertsOf(rule.id)).toHaveLength(1);
  });

  it('a drop smaller than the threshold raises nothing', async () => {
    const segment = await newSegment(2, { [TODAY - 1]: 1000, [TODAY]: 800 });
    const rule = await createRule({ name: '小幅下降', kind: 'segment_drop', segmentId: segment, threshold: 30 });
    await evaluateAlerts(env, AT);
    expect(await alertsOf(rule.id)).toHaveLength(0);
  });
});

describe('other conditions', () => {
  it('raises on a rise above the threshold, not on one below it', async () => {
    const segment = await newSegment(2, { [TODAY - 1]: 100, [TODAY]: 150 });
    const over = await createRule({ name: '涨 40', kind: 'segment_rise', segmentId: segment, threshold: 40 });
    const under = await createRule({ name: '涨 60', kind: 'segment_rise', segmentId: segment, threshold: 60 });
    await evaluateAlerts(env, AT);
    expect((await alertsOf(over.id)).map((a) => a.measured)).toEqual([
      { kind: 'segment_rise', previous: 100, current: 150, changePct: 50, threshold: 40, day: TODAY },
    ]);
    expect(await alertsOf(under.id)).toHaveLength(0);
  });

  it('raises when a segment falls below N', async () => {
    const segment = await newSegment(2, { [TODAY]: 40 });
    const below50 = await createRule({ name: '少于 50', kind: 'segment_below', segmentId: segment, threshold: 50 });
    const below30 = await createRule({ name: '少于 30', kind: 'segment_below', segmentId: segment, threshold: 30 });
    await evaluateAlerts(env, AT);
    expect((await alertsOf(below50.id)).map((a) => a.measured)).toEqual([
      { kind: 'segment_below', current: 40, threshold: 50, day: TODAY },
    ]);
    expect(await alertsOf(below30.id)).toHaveLength(0);
  });

  it('raises when a published rule stops firing for N hours, and ends the episode when it fires again', async () => {
    const silent = await newRule({ publishedAt: AT - 20 * HOUR });
    await ledgerRow(silent, AT - 10 * HOUR);
    const busy = await newRule({ publishedAt: AT - 20 * HOUR });
    await ledgerRow(busy, AT - HOUR);
    const a = await createRule({ name: '停止打标', kind: 'rule_silent', ruleId: silent, threshold: 6 });
    const b = await createRule({ name: '仍在打标', kind: 'rule_silent', ruleId: busy, threshold: 6 });
    await evaluateAlerts(env, AT);
    const raised = await alertsOf(a.id);
    expect(raised.map((x) => x.measured)).toEqual([
      { kind: 'rule_silent', lastAt: AT - 10 * HOUR, since: AT - 10 * HOUR, hours: 10, threshold: 6 },
    ]);
    expect(await alertsOf(b.id)).toHaveLength(0);

    await ledgerRow(silent, AT + 30_000);
    await evaluateAlerts(env, AT + 60_000);
    expect((await alertsOf(a.id))[0]!.clearedAt).toBe(AT + 60_000);
  });

  it('raises when a rule is paused by the system (its rights were lost)', async () => {
    const paused = await newRule({
      status: 'paused',
      pausedReason: JSON.stringify({ kind: 'rights_lost', at: 1, version: 1, user: null, problems: [] }),
    });
    const rule = await createRule({ name: '规则出错', kind: 'rule_errors', ruleId: paused });
    await evaluateAlerts(env, AT);
    expect((await alertsOf(rule.id)).map((x) => x.measured)).toEqual([{ kind: 'rule_errors', reason: 'rights_lost', paused: true }]);
  });

  it('raises when a rule errors in the cron tick', async () => {
    const failing = await newRule();
    const rule = await createRule({ name: '运行出错', kind: 'rule_errors', ruleId: failing });
    await evaluateAlerts(env, AT, { errors: [`rule ${failing} v1: cron does not parse`] });
    expect((await alertsOf(rule.id))[0]?.measured).toEqual({
      kind: 'rule_errors',
      reason: `rule ${failing} v1: cron does not parse`,
      paused: false,
    });
    await evaluateAlerts(env, AT + 60_000, { errors: [] });
    expect((await alertsOf(rule.id))[0]?.clearedAt).toBe(AT + 60_000);
  });

  it('raises when a source has been silent for N hours', async () => {
    await db.batch([
      db
        .prepare(
          `INSERT INTO event_sources (id, name, kind, secret, created_at, last_event_at) VALUES ('quiet', '静默来源', 'generic', 'x', 1, ?)`,
        )
        .bind(AT - 5 * HOUR),
      db
        .prepare(
          `INSERT INTO event_sources (id, name, kind, secret, created_at, last_event_at) VALUES ('busy', '活跃来源', 'generic', 'x', 1, ?)`,
        )
        .bind(AT - HOUR),
    ]);
    const quiet = await createRule({ name: '来源静默', kind: 'source_silent', sourceId: 'quiet', threshold: 4 });
    const busy = await createRule({ name: '来源活跃', kind: 'source_silent', sourceId: 'busy', threshold: 4 });
    await evaluateAlerts(env, AT);
    const raised = await alertsOf(quiet.id);
    expect(raised.map((x) => x.measured)).toEqual([
      { kind: 'source_silent', lastAt: AT - 5 * HOUR, since: AT - 5 * HOUR, hours: 5, threshold: 4 },
    ]);
    expect(raised[0]!.target).toEqual({ type: 'source', id: 'quiet', name: '静默来源' });
    expect(await alertsOf(busy.id)).toHaveLength(0);
  });

  it('raises on a new dead letter since the last check, and not for the old ones', async () => {
    await newDeadLetter(); // before the rule: not new to it
    const rule = await createRule({ name: '死信', kind: 'dead_letters' });
    await evaluateAlerts(env, Date.now() + 1);
    expect(await alertsOf(rule.id)).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 5));
    await newDeadLetter();
    await evaluateAlerts(env, Date.now() + 1);
    const raised = await alertsOf(rule.id);
    expect(raised).toHaveLength(1);
    expect(raised[0]!.measured).toMatchObject({ kind: 'dead_letters', intake: 1, deliveries: 0 });
    // nothing new since: the episode ends, no second alert
    await evaluateAlerts(env, Date.now() + 2);
    const after = await alertsOf(rule.id);
    expect(after).toHaveLength(1);
    expect(after[0]!.clearedAt).not.toBeNull();
  });

  it('counts dead outbound deliveries too, but not an alert’s own (it would feed itself)', async () => {
    const rule = await createRule({ name: '推送死信', kind: 'dead_letters' });
    const dead = (id: string, node: string, at: number) =>
      db
        .prepare(
          `INSERT INTO deliveries (id, destination_id, kind, rule_id, rule_version, node_id, contact_id, status, attempts, last_attempt_at, created_at)
           VALUES (?, 1, 'call_webhook', 0, 0, ?, 0, 'dead', 5, ?, ?)`,
        )
        .bind(id, node, at, at)
        .run();
    const t0 = Date.now() + 10_000;
    await dead('a'.repeat(64), 'alert:1:1', t0);
    await evaluateAlerts(env, t0 + 1);
    expect(await alertsOf(rule.id)).toHaveLength(0);
    await dead('b'.repeat(64), 'crm', t0 + 2);
    await evaluateAlerts(env, t0 + 3);
    expect((await alertsOf(rule.id)).map((a) => a.measured)).toEqual([{ kind: 'dead_letters', intake: 0, deliveries: 1, since: t0 + 1 }]);
  });
});

describe('scope and input', () => {
  it('a department admin sees only their scope’s alerts and may not watch another department', async () => {
    const east = await newSegment(2, { [TODAY]: 1 });
    const south = await newSegment(4, { [TODAY]: 1 });
    const eastRule = await createRule({ name: '华东少', kind: 'segment_below', segmentId: east, threshold: 5 }, EAST_ADMIN);
    const southRule = await createRule({ name: '华南少', kind: 'segment_below', segmentId: south, threshold: 5 }, SOUTH_ADMIN);
    await evaluateAlerts(env, AT);

    const seenByEast = (await apiAs<AlertList>(EAST_ADMIN, '/api/alerts?state=all&pageSize=100')).body;
    const ruleIds = new Set(seenByEast.items.map((a) => a.alertRuleId));
    expect(ruleIds.has(eastRule.id)).toBe(true);
    expect(ruleIds.has(southRule.id)).toBe(false);
    expect(seenByEast.items.every((a) => a.kind !== 'dead_letters' && a.kind !== 'source_silent')).toBe(true);
    const staffView = (await apiAs<AlertList>(EAST_STAFF, '/api/alerts?state=open&pageSize=100')).body;
    expect(staffView.open).toBe(seenByEast.open);
    const rulesSeen = (await apiAs<{ items: AlertRuleItem[] }>(EAST_ADMIN, '/api/alerts/rules')).body.items.map((r) => r.id);
    expect(rulesSeen).toContain(eastRule.id);
    expect(rulesSeen).not.toContain(southRule.id);

    // the super admin's bell counts everything open
    const all = (await api<AlertList>('/api/alerts?state=open')).body;
    expect(all.open).toBeGreaterThan(seenByEast.open);

    const southAlert = (await alertsOf(southRule.id))[0]!;
    expect((await apiAs(EAST_ADMIN, `/api/alerts/${southAlert.id}/ack`, json({}))).status).toBe(404);
    expect((await apiAs(EAST_ADMIN, `/api/alerts/rules/${southRule.id}/mute`, json({}))).status).toBe(404);
    const eastAlert = (await alertsOf(eastRule.id))[0]!;
    expect((await apiAs(EAST_STAFF, `/api/alerts/${eastAlert.id}/ack`, json({}))).status).toBe(403);

    const outside = await apiAs(
      EAST_ADMIN,
      '/api/alerts/rules',
      json({ name: '越界', kind: 'segment_drop', segmentId: south, threshold: 30 }),
    );
    expect(outside.status).toBe(403);
    expect((await apiAs(EAST_ADMIN, '/api/alerts/rules', json({ name: '死信', kind: 'dead_letters' }))).status).toBe(403);
    expect(
      (await apiAs(EAST_STAFF, '/api/alerts/rules', json({ name: '员工', kind: 'segment_below', segmentId: east, threshold: 3 }))).status,
    ).toBe(403);
  });

  it('refuses bad input with a 4xx naming the field', async () => {
    const paths = async (body: unknown) => {
      const r = await api('/api/alerts/rules', json(body));
      expect(r.status).toBe(400);
      return (r.body.error.details as { path: string }[]).map((d) => d.path);
    };
    expect(await paths({ name: '', kind: 'segment_drop', segmentId: 1, threshold: 30 })).toContain('name');
    expect(await paths({ name: 'x', kind: 'segment_drop', threshold: 30 })).toContain('segmentId');
    expect(await paths({ name: 'x', kind: 'segment_drop', segmentId: 1 })).toContain('threshold');
    expect(await paths({ name: 'x', kind: 'segment_drop', segmentId: 1, threshold: 150 })).toContain('threshold');
    expect(await paths({ name: 'x', kind: 'nope' })).toContain('kind');
    expect(await paths({ name: 'x', kind: 'segment_below', segmentId: 999_999, threshold: 3 })).toContain('segmentId');
    expect(await paths({ name: 'x', kind: 'dead_letters', destinationId: 999_999 })).toContain('destinationId');
    const rule = await createRule({ name: '静音校验', kind: 'dead_letters' });
    const past = await api(`/api/alerts/rules/${rule.id}/mute`, json({ until: 1000 }));
    expect(past.status).toBe(400);
    expect(past.body.error.details[0].path).toBe('until');
    expect((await api('/api/alerts?state=closed')).status).toBe(400);
  });
});

describe('outbound', () => {
  it('an alert rule naming a destination enqueues exactly one delivery per alert, with a stable id', async () => {
    const dest = await api<{ destination: { id: number } }>(
      '/api/destinations',
      json({ name: '告警机器人', kind: 'notify', url: 'http://receiver.test/ok/alerts' }),
    );
    expect(dest.status).toBe(201);
    const sent: DeliveryMessage[] = [];
    const real = env.DELIVERIES.sendBatch.bind(env.DELIVERIES);
    vi.spyOn(env.DELIVERIES, 'sendBatch').mockImplementation(async (messages, options) => {
      for (const m of messages) sent.push(m.body as DeliveryMessage);
      return real(messages, options);
    });
    const segment = await newSegment(2, { [TODAY - 1]: 1000, [TODAY]: 600 });
    const rule = await createRule({
      name: '推送告警',
      kind: 'segment_drop',
      segmentId: segment,
      threshold: 30,
      destinationId: dest.body.destination.id,
    });
    await evaluateAlerts(env, AT);
    await evaluateAlerts(env, AT + 60_000);
    const alerts = await alertsOf(rule.id);
    expect(alerts).toHaveLength(1);
    const mine = sent.filter((m) => m.alert?.alertRuleId === rule.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      id: alerts[0]!.deliveryId,
      destinationId: dest.body.destination.id,
      kind: 'notify',
      cause: { kind: 'alert', ref: `alert:${alerts[0]!.id}` },
      alert: { id: alerts[0]!.id, measured: { previous: 1000, current: 600, changePct: -40 } },
    });
    expect(mine[0]!.id).toMatch(/^[0-9a-f]{64}$/);
    expect(mine[0]!.text).toContain('下降 40%');
  });
});
