/**
 * Call-webhook and notify nodes over demo data: the preview's call count per node is the number
 * of deliveries publishing puts on the deliveries queue — one per contact the node reaches whose
 * tags publishing changes, none for the others — each message naming the contact, the rule, the
 * version and that contact's tag changes; and an unknown or revoked destination is a 422 on its
 * node, never a 500.
 */
import { env, exports } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { demoSql } from '@shared/demo';
import {
  expectedCallsOf,
  expectedOf,
  type PublishResponse,
  type RuleDetail,
  type RulePreviewOk,
  type RulePreviewResponse,
} from '@shared/api/rules';
import type { RuleGraph } from '@shared/rules/types';
import type { DeliveryMessage } from '../src/outbound/enqueue';
import { deliveryId } from '../src/outbound/enqueue';
import { api, untilStored, webhookSignature } from './fixtures';
import { compileRule } from '@shared/rules/compile';
import { runScheduled } from '../src/cron/scheduled';
import { outboundStatements } from '../src/outbound/rule-deliveries';

const db = env.DB;
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const tag: Record<string, number> = {};
let webhook = 0;
let notifyTo = 0;
let revoked = 0;

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 400, seed: 31, now: Date.now(), avgEvents: 10 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  for (const name of ['活跃客户', '待跟进', 'VIP']) {
    tag[name] = (await db.prepare('SELECT id FROM tags WHERE name = ?').bind(name).first<{ id: number }>())!.id;
  }
  // destinations as a super admin makes them on the data-sources screen
  const create = async (name: string, kind: 'webhook' | 'notify') => {
    const r = await api<{ destination: { id: number } }>('/api/destinations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, kind, url: 'https://receiver.example.test/hook' }),
    });
    expect(r.status).toBe(201);
    return r.body.destination.id;
  };
  webhook = await create('CRM', 'webhook');
  notifyTo = await create('企业微信提醒', 'notify');
  revoked = await create('old', 'webhook');
  expect(
    (await api(`/api/destinations/${revoked}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
      .status,
  ).toBe(200);
});

/** What the worker hands the deliveries queue, captured on its way there (the messages still go to the real queue). */
function captureDeliveries(): DeliveryMessage[] {
  const sent: DeliveryMessage[] = [];
  const real = env.DELIVERIES.sendBatch.bind(env.DELIVERIES);
  vi.spyOn(env.DELIVERIES, 'sendBatch').mockImplementation(async (messages, options) => {
    for (const m of messages) sent.push(m.body as DeliveryMessage);
    return real(messages, options);
  });
  return sent;
}
afterEach(() => vi.restoreAllMocks());

/** Schedule → active in 30 days? yes: add 活跃客户 and call the CRM; no: remove 待跟进. Everyone: notify the owner. */
function graph(destination = webhook): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'active', kind: 'condition', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 30 } },
      { id: 'add', kind: 'action', action: { type: 'add_tag', tagId: tag['活跃客户']! } },
      { id: 'rm', kind: 'action', action: { type: 'remove_tag', tagId: tag['待跟进']! } },
      { id: 'crm', kind: 'action', action: { type: 'call_webhook', destinationId: destination } },
      { id: 'owner', kind: 'action', action: { type: 'notify', destinationId: notifyTo, text: '{name}：{tags}（{rule}）' } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'active' },
      { id: 'e2', source: 'active', target: 'add', sourceHandle: 'yes' },
      { id: 'e3', source: 'active', target: 'crm', sourceHandle: 'yes' },
      { id: 'e4', source: 'active', target: 'rm', sourceHandle: 'no' },
      { id: 'e5', source: 't', target: 'owner' },
    ],
  };
}

async function createAndPreview(name: string, g: RuleGraph): Promise<{ rule: RuleDetail; p: RulePreviewOk }> {
  const created = await api<RuleDetail>('/api/rules', json({ name, graph: g }));
  expect(created.status).toBe(201);
  const r = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g, ruleId: created.body.id, sampleSize: 0 }));
  expect(r.status).toBe(200);
  if (!r.body.ok) throw new Error(JSON.stringify(r.body.errors));
  return { rule: created.body, p: r.body };
}

const vipTag = () => tag['VIP']!;
const callsOf = (p: RulePreviewOk, nodeId: string) => {
  const a = p.counts.actions[nodeId];
  return a && 'calls' in a ? a.calls : -1;
};

describe('publishing calls exactly as the preview counted', () => {
  it('one delivery per re-tagged contact a call node reaches, none for the contacts publishing leaves as they were', async () => {
    const { rule, p } = await createAndPreview('活跃客户通知', graph());
    const crmCalls = callsOf(p, 'crm');
    const ownerCalls = callsOf(p, 'owner');
    const reachedCrm = p.counts.nodes['crm'] ?? 0;
    // the data must make the test mean something: some reached contacts change, some do not
    expect(crmCalls).toBeGreaterThan(0);
    expect(crmCalls).toBeLessThan(reachedCrm);
    expect(ownerCalls).toBeGreaterThan(crmCalls);
    expect(ownerCalls).toBeLessThan(p.counts.total);

    const sent = captureDeliveries();
    // a confirmation of other call counts is refused, naming the node, and calls nobody
    const body = { rolloutPercent: 100, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true };
    const stale = await api<{ error: { details: { path: string }[] } }>(
      `/api/rules/${rule.id}/publish`,
      json({ ...body, expectedCalls: { ...expectedCallsOf(p.counts), crm: crmCalls + 1 } }),
    );
    expect(stale.status).toBe(409);
    expect(stale.body.error.details.map((d) => d.path)).toEqual(['expectedCalls.crm']);
    expect(sent).toHaveLength(0);
    const r = await api<PublishResponse>(`/api/rules/${rule.id}/publish`, json({ ...body, expectedCalls: expectedCallsOf(p.counts) }));
    expect(r.status).toBe(200);

    const crm = sent.filter((m) => m.rule.nodeId === 'crm');
    const owner = sent.filter((m) => m.rule.nodeId === 'owner');
    expect(crm).toHaveLength(crmCalls);
    expect(owner).toHaveLength(ownerCalls);
    expect(sent).toHaveLength(crmCalls + ownerCalls);

    // Each called contact is one the ledger says this publish changed, with those changes in the payload.
    const ledger = await db
      .prepare('SELECT contact_id, tag_id, op FROM tag_ledger WHERE batch_id = ? ORDER BY id')
      .bind(`publish:${rule.id}:1`)
      .all<{ contact_id: number; tag_id: number; op: string }>();
    const changed = new Map<number, string[]>();
    for (const l of ledger.results)
      changed.set(l.contact_id, [...(changed.get(l.contact_id) ?? []), `${l.op === 'add' ? 'added' : 'removed'}:${l.tag_id}`]);
    expect(new Set(owner.map((m) => m.contact.id))).toEqual(new Set(changed.keys()));
    for (const m of sent) {
      expect(m.tagChanges.map((t) => `${t.change}:${t.tagId}`)).toEqual(changed.get(m.contact.id));
      expect(m.rule).toMatchObject({ id: rule.id, version: 1, name: '活跃客户通知' });
      expect(m.cause).toEqual({ kind: 'publish', ref: `publish:${rule.id}:1` });
      expect(m.id).toBe(
        await deliveryId({
          ruleId: rule.id,
          ruleVersion: 1,
          nodeId: m.rule.nodeId,
          contactId: m.contact.id,
          runRef: `publish:${rule.id}:1`,
        }),
      );
    }
    // the CRM hears of the contacts that became active; the owner's text is filled in
    expect(
      crm.every((m) => m.kind === 'call_webhook' && m.destinationId === webhook && m.tagChanges.some((t) => t.change === 'added')),
    ).toBe(true);
    const one = owner[0]!;
    expect(one.kind).toBe('notify');
    expect(one.text).toBe(
      `${one.contact.name ?? ''}：${one.tagChanges.map((t) => `${t.change === 'added' ? '+' : '-'}${t.tagName}`).join(' ')}（活跃客户通知）`,
    );
    // nothing is left staged once the queue has it
    expect(
      (await db.prepare("SELECT COUNT(*) AS n FROM tag_apply_targets WHERE run_id >= 'out:' AND run_id < 'out;'").first<{ n: number }>())!
        .n,
    ).toBe(0);
  });

  it('pins a revoked, missing or other-kind destination on its node in the preview, and publishing it is a 422', async () => {
    for (const destination of [revoked, notifyTo, 999_999]) {
      const created = await api<RuleDetail>('/api/rules', json({ name: `坏目的地 ${destination}`, graph: graph(destination) }));
      expect(created.status).toBe(201);
      const r = await api<RulePreviewResponse>(
        '/api/rules/preview',
        json({ graph: graph(destination), ruleId: created.body.id, sampleSize: 0 }),
      );
      expect(r.status).toBe(200);
      expect(r.body.ok).toBe(false);
      if (r.body.ok) continue;
      expect(r.body.errors).toEqual([expect.objectContaining({ nodeId: 'crm', code: 'unknown_destination' })]);
      const body = { rolloutPercent: 100, graphHash: created.body.draftHash, expected: {}, confirm: true };
      const published = await api<{ error: { code: string; details: { path: string }[] } }>(
        `/api/rules/${created.body.id}/publish`,
        json(body),
      );
      expect(published.status).toBe(422);
      expect(published.body.error.details).toEqual([expect.objectContaining({ path: 'crm' })]);
    }
  });

  it('refuses a schedule rule whose only actions call out: it would never fire', async () => {
    const g: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
        { id: 'crm', kind: 'action', action: { type: 'call_webhook', destinationId: webhook } },
      ],
      edges: [{ id: 'e1', source: 't', target: 'crm' }],
    };
    const r = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g, sampleSize: 0 }));
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(false);
    if (!r.body.ok) expect(r.body.errors).toEqual([expect.objectContaining({ nodeId: 'crm', code: 'outbound_never_fires' })]);
  });
});

describe('scheduled runs call too, and nothing staged is lost', () => {
  it('a scheduled run calls for the one contact it newly re-tags, named by the schedule batch', async () => {
    const g: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '* * * * *' } },
        { id: 'rich', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 1_000_000_000 } },
        { id: 'vip', kind: 'action', action: { type: 'add_tag', tagId: vipTag() } },
        { id: 'crm', kind: 'action', action: { type: 'call_webhook', destinationId: webhook } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'rich' },
        { id: 'e2', source: 'rich', target: 'vip', sourceHandle: 'yes' },
        { id: 'e3', source: 'rich', target: 'crm', sourceHandle: 'yes' },
      ],
    };
    const { rule, p } = await createAndPreview('超级大客户', g);
    expect(callsOf(p, 'crm')).toBe(0);
    const r = await api<PublishResponse>(
      `/api/rules/${rule.id}/publish`,
      json({ rolloutPercent: 100, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true }),
    );
    expect(r.status).toBe(200);
    const contact = (await db.prepare('SELECT id FROM contacts ORDER BY id LIMIT 1').first<{ id: number }>())!.id;
    await db.prepare('UPDATE contacts SET total_spend = 2000000000 WHERE id = ?').bind(contact).run();

    const sent = captureDeliveries();
    const at = Date.now();
    const report = await runScheduled(env, at);
    const mine = sent.filter((m) => m.rule.id === rule.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      kind: 'call_webhook',
      contact: { id: contact },
      cause: { kind: 'schedule', ref: `schedule:${rule.id}:1:${at}` },
      tagChanges: [{ tagId: vipTag(), change: 'added' }],
    });
    expect(report.deliveries).toBe(sent.length);
  });

  it('deliveries staged by a run whose enqueue failed are sent by the next cron tick, then unstaged', async () => {
    // A run's batch as publishing writes it, without the send that follows (as when the queue refused it).
    const g = graph();
    const compiled = compileRule(g);
    if (!compiled.ok) throw new Error('does not compile');
    const ctx = { now: Date.now(), tzOffsetMinutes: 480 };
    const ruleRow = await db.prepare("SELECT id FROM rules WHERE name = '活跃客户通知'").first<{ id: number }>();
    const run = {
      ruleId: ruleRow!.id,
      ruleVersion: 1,
      batchId: `publish:${ruleRow!.id}:1`,
      cause: { kind: 'publish' as const, ref: 'again' },
      at: ctx.now,
    };
    // everyone the publish re-tagged is still in that batch's ledger: stage them again
    const out = outboundStatements(db, compiled.value, ctx, undefined, run);
    if (!out.ok) throw new Error('no statements');
    await db.batch([...out.value.before, ...out.value.after]);
    const staged = (await db
      .prepare("SELECT COUNT(*) AS n FROM tag_apply_targets WHERE run_id >= 'out:' AND run_id < 'out;'")
      .first<{ n: number }>())!.n;
    expect(staged).toBeGreaterThan(0);

    const sent = captureDeliveries();
    const report = await runScheduled(env, Date.UTC(2026, 10, 24, 4, 0, 0));
    expect(sent.filter((m) => m.cause.ref === 'again')).toHaveLength(staged);
    expect(report.deliveries).toBeGreaterThanOrEqual(staged);
    expect(
      (await db.prepare("SELECT COUNT(*) AS n FROM tag_apply_targets WHERE run_id >= 'out:' AND run_id < 'out;'").first<{ n: number }>())!
        .n,
    ).toBe(0);
  });
});

describe('event-triggered rules call once per event that reaches the node', () => {
  it('a message mentioning 价格 notifies the owner even though no tag changes; other messages and a resent event do not', async () => {
    const g: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } },
        { id: 'price', kind: 'condition', condition: { field: 'trigger.text', op: 'contains_any', value: ['价格'] } },
        { id: 'owner', kind: 'action', action: { type: 'notify', destinationId: notifyTo, text: '{name} 问了价格' } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'price' },
        { id: 'e2', source: 'price', target: 'owner', sourceHandle: 'yes' },
      ],
    };
    const { rule, p } = await createAndPreview('询价提醒', g);
    // it reads its event: publishing applies nothing and calls nobody
    expect(callsOf(p, 'owner')).toBe(0);
    const sent = captureDeliveries();
    const r = await api<PublishResponse>(
      `/api/rules/${rule.id}/publish`,
      json({ rolloutPercent: 100, graphHash: p.graphHash, expected: expectedOf(p.counts), confirm: true }),
    );
    expect(r.status).toBe(200);
    expect(sent).toHaveLength(0);

    await db.prepare("INSERT INTO event_sources (id, name, kind, secret) VALUES ('im', '客服系统', 'generic', 'im-secret')").run();
    const post = async (events: unknown[]) => {
      const body = JSON.stringify({ events });
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await exports.default.fetch(
        new Request('http://segflow.test/api/webhooks/im', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'X-Segflow-Timestamp': ts,
            'X-Segflow-Signature': await webhookSignature('im-secret', ts, body),
          },
          body,
        }),
      );
      expect(res.status).toBe(202);
      // the intake queue's consumer runs the rules after the answer: wait for the events it stores
      await untilStored(
        'im',
        (events as { id: string }[]).map((e) => e.id),
      );
    };
    const msg = (id: string, ext: string, text: string) => ({
      id,
      type: 'message',
      occurredAt: Date.now() - 1000,
      contact: { externalId: ext, name: '新朋友' },
      text,
    });
    await post([msg('m-1', 'new-ext-1', '请问价格多少'), msg('m-2', 'new-ext-1', '你好'), msg('m-3', 'new-ext-2', '价格表发我')]);
    // the sender retries m-1 (a duplicate: no second call), sent with a new event that calls nobody
    await post([msg('m-1', 'new-ext-1', '请问价格多少'), msg('m-4', 'new-ext-2', '谢谢')]);
    const mine = sent.filter((m) => m.rule.id === rule.id);
    expect(mine.map((m) => [m.contact.externalId, m.cause])).toEqual([
      ['new-ext-1', { kind: 'event', ref: 'im:m-1' }],
      ['new-ext-2', { kind: 'event', ref: 'im:m-3' }],
    ]);
    const contactId = (await db.prepare("SELECT id FROM contacts WHERE external_id = 'new-ext-1'").first<{ id: number }>())!.id;
    expect(mine[0]).toMatchObject({
      kind: 'notify',
      destinationId: notifyTo,
      text: '新朋友 问了价格',
      tagChanges: [],
      contact: { id: contactId },
    });
    expect(mine[0]!.id).toBe(await deliveryId({ ruleId: rule.id, ruleVersion: 1, nodeId: 'owner', contactId, runRef: 'im:m-1' }));
  });
});
