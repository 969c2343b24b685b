/**
 * What the WeCom push tests share: the simulator's admin API (tools/wecom-sim at http://wecom.test),
 * a corp of a test's own connected here, a synced tag group, the WeCom queue driven by hand, and a
 * published rule adding a tag to every pulled customer.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { expect } from 'vitest';
import type { RuleDetail, RulePreviewResponse } from '@shared/api/rules';
import { expectedOf } from '@shared/api/rules';
import type { RuleGraph } from '@shared/rules/types';
import { api } from './fixtures';
import { consumeWecomSync } from '../src/wecom/sync/consume';
import type { WecomSyncMessage } from '../src/wecom/sync/message';
import { startSync } from '../src/wecom/sync/runs';
import { drainPushes } from '../src/wecom/push/push';
import { mirrorConnection } from '../src/wecom/push/mirror';

const db = env.DB;
/** A pending push hint that never comes due: the real queue leaves a hand-driven corp alone. */
export const HINTS_HELD = 8_000_000_000_000_000;

export async function sim<T = any>(path: string, body?: unknown, method = 'POST'): Promise<T> {
  const res = await fetch(`http://wecom.test/__sim${path}`, body === undefined ? undefined : { method, body: JSON.stringify(body) });
  expect(res.status, `sim ${path}`).toBe(200);
  return res.json() as Promise<T>;
}

export let seq = 0;
/** A corp of its own in the simulator, connected here. */
export async function seedCorp(size: { followUsers?: number; contacts?: number } = {}): Promise<{ corpid: string; connectionId: number }> {
  const corpid = `wwpush${Date.now().toString(36)}${++seq}`;
  await sim('/seed', {
    corpid,
    seed: corpid,
    followUsers: size.followUsers ?? 2,
    contacts: size.contacts ?? 6,
    chats: 0,
    sharedShare: 0.5,
    contactSecret: `${corpid}-contact-secret`,
  });
  const res = await api('/api/wecom/connections', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ corpId: corpid, contactSecret: `${corpid}-contact-secret` }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { corpid, connectionId: res.body.id };
}

/** THE Segflow group marked "sync to WeCom" (others made by earlier tests are unmarked), with tags on up to three levels; answers the tag ids by path. */
export async function syncedGroup(name: string, paths: string[][], policy: 'segflow' | 'wecom' = 'segflow') {
  await db.prepare('UPDATE tag_groups SET wecom_sync = 0 WHERE wecom_sync = 1').run();
  const g = await db
    .prepare(`INSERT INTO tag_groups (name, wecom_sync, wecom_policy) VALUES (?, 1, ?) RETURNING id`)
    .bind(name, policy)
    .first<{ id: number }>();
  const ids = new Map<string, number>();
  for (const path of paths) {
    const parent = path.length > 1 ? ids.get(path.slice(0, -1).join('/'))! : null;
    const t = await db
      .prepare(`INSERT INTO tags (group_id, parent_id, level, name) VALUES (?, ?, ?, ?) RETURNING id`)
      .bind(g!.id, parent, path.length, path.at(-1))
      .first<{ id: number }>();
    ids.set(path.join('/'), t!.id);
  }
  return { groupId: g!.id, ids };
}

export async function library(corpid: string) {
  const lib = await sim<{ groups: any[]; tags: any[] }>(`/corps/${corpid}/tags`);
  return { groups: lib.groups.filter((g) => !g.deleted), tags: lib.tags.filter((t) => !t.deleted) };
}
export const mapRows = (connectionId: number) =>
  db
    .prepare('SELECT kind, wecom_id, segflow_id, name, origin FROM wecom_tag_map WHERE connection_id = ? AND deleted_at IS NULL')
    .bind(connectionId)
    .all<{ kind: string; wecom_id: string; segflow_id: number; name: string; origin: string }>()
    .then((r) => r.results);
export const addCorpTagCalls = async (corpid: string) =>
  Object.entries(await sim<Record<string, number>>(`/corps/${corpid}/calls`, undefined, 'GET'))
    .filter(([k]) => k.includes('add_corp_tag'))
    .reduce((n, [, v]) => n + v, 0);

// ---- the WeCom queue, as a test drives it (as in wecom-sync.test.ts) ----
export interface Queued {
  body: WecomSyncMessage;
  attempts: number;
}
export function fakeQueue() {
  const sent: Queued[] = [];
  const queue = {
    send: async (body: WecomSyncMessage) => void sent.push({ body, attempts: 1 }),
    sendBatch: async (msgs: { body: WecomSyncMessage }[]) => void msgs.forEach((m) => sent.push({ body: m.body, attempts: 1 })),
  };
  return { sent, env: { ...env, WECOM_SYNC: queue as unknown as Queue } as Env };
}
let msgSeq = 0;
/** A fresh queue message id. */
export const nextMsgId = (prefix: string) => `${prefix}-${++msgSeq}`;
/** Delivers every queued message (a retried one goes back with one more attempt); answers how many deliveries. */
export async function drainQueue(q: ReturnType<typeof fakeQueue>): Promise<number> {
  let n = 0;
  while (q.sent.length) {
    const m = q.sent.shift()!;
    const batch = createMessageBatch<WecomSyncMessage>('segflow-wecom-sync', [
      { id: nextMsgId('push'), timestamp: new Date(), attempts: m.attempts, body: m.body },
    ]);
    const ctx = createExecutionContext();
    await consumeWecomSync(batch as MessageBatch<unknown>, q.env);
    const r = await getQueueResult(batch, ctx);
    if (r.retryMessages.length) q.sent.push({ ...m, attempts: m.attempts + 1 });
    if (++n > 2000) throw new Error('the queue does not drain');
  }
  return n;
}

/**
 * A corp backfilled into Segflow, with a synced Segflow-owned group of two tags mirrored into it.
 * The test drives the WeCom queue by hand, so the real queue's push hints (wecom/push/hint.ts) are
 * held off for it (a hint counts as pending for ever) unless `hints` is set.
 */
export async function pulledCorpWithSyncedGroup(o: { hints?: boolean } = {}) {
  const corp = await seedCorp({ followUsers: 3, contacts: 8 });
  const q = fakeQueue();
  await startSync(q.env, corp.connectionId, { userId: 9001, ip: null }, Date.now());
  await drainQueue(q);
  const { groupId, ids } = await syncedGroup(`推送${seq}`, [['甲'], ['乙']]);
  expect(await mirrorConnection(env, corp.connectionId)).toMatchObject({ status: 'ok', createdTags: 2 });
  const wecomId = async (tagId: number) =>
    (await db
      .prepare(`SELECT wecom_id FROM wecom_tag_map WHERE connection_id = ? AND kind = 'tag' AND segflow_id = ?`)
      .bind(corp.connectionId, tagId)
      .first<string>('wecom_id'))!;
  // the push starts after what the backfill wrote
  await drainPushes(q.env, corp.connectionId);
  q.sent.length = 0;
  if (!o.hints)
    await db.prepare('UPDATE wecom_push_state SET hint_due_at = ? WHERE connection_id = ?').bind(HINTS_HELD, corp.connectionId).run();
  return { ...corp, q, groupId, ids, wecomId };
}

/** Publishes "every contact with a lifetime spend ≥ 0 gets `tagId`": every pulled customer. */
export async function publishAddTag(name: string, tagId: number, expectStatus = 200) {
  const graph: RuleGraph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 0 } },
      { id: 'add', kind: 'action', action: { type: 'add_tag', tagId } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'add', sourceHandle: 'yes' },
    ],
  } as RuleGraph;
  const post = (path: string, body: unknown) =>
    api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const rule = await post('/api/rules', { name, graph });
  expect(rule.status, JSON.stringify(rule.body)).toBe(201);
  const id = (rule.body as RuleDetail).id;
  const p = await post('/api/rules/preview', { graph, ruleId: id, rolloutPercent: 100, sampleSize: 0 });
  const preview = p.body as RulePreviewResponse;
  if (!preview.ok) throw new Error(JSON.stringify(preview.errors));
  const r = await post(`/api/rules/${id}/publish`, {
    rolloutPercent: preview.rolloutPercent,
    graphHash: preview.graphHash,
    expected: expectedOf(preview.counts),
    confirm: true,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(expectStatus);
  return r.body;
}

/** Live relations of the corp in the simulator: `userid|external_userid` → its corp tag ids. */
export async function simRelations(corpid: string): Promise<Map<string, string[]>> {
  const { items } = await sim<{ items: any[] }>(`/corps/${corpid}/contacts?limit=1000`, undefined, 'GET');
  return new Map(items.flatMap((c) => c.follow_users.map((f: any) => [`${f.userid}|${c.external_userid}`, f.tagIds as string[]])));
}
export const markTagCalls = async (corpid: string) =>
  (await sim<Record<string, number>>(`/corps/${corpid}/calls`, undefined, 'GET'))['externalcontact/mark_tag'] ?? 0;
