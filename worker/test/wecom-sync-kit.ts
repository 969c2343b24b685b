/**
 * What the WeCom pull tests share (wecom-sync*.test.ts): the simulator's admin API
 * (tools/wecom-sim at http://wecom.test), a corp of a test's own connected here (its callbacks'
 * source linked), the sync queue driven message by message (`fakeQueue`, `deliver`, `drain`), and
 * what D1 holds of a corp set against what the simulator holds.
 */
import { env, exports } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { expect } from 'vitest';
import { api, type TestUser } from './fixtures';
import { consumeWecomSync } from '../src/wecom/sync/consume';
import { startSync } from '../src/wecom/sync/runs';
import type { WecomSyncMessage } from '../src/wecom/sync/message';

export const db = env.DB;
export const ROOT_ACTOR = { userId: 9001, ip: null };
export const DEPT_ADMIN: TestUser = { id: 9711, role: 'dept_admin', departmentId: 2 };
export const STAFF: TestUser = { id: 9712, role: 'staff', departmentId: 2 };
export const TOKEN = 'SyncToken123';
export const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789SYNCKEY';

export const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

// ---- the simulator's admin API ----
export async function sim<T = any>(path: string, body?: unknown, method = 'POST'): Promise<T> {
  const res = await fetch(`http://wecom.test/__sim${path}`, body === undefined ? undefined : { method, body: JSON.stringify(body) });
  expect(res.status, `sim ${path}`).toBe(200);
  return res.json() as Promise<T>;
}

let seq = 0;
export interface Corp {
  corpid: string;
  connectionId: number;
  sourceId: string;
}
/** A corp of its own in the simulator, connected here (and its callbacks' source linked). */
export async function seedCorp(size: { followUsers?: number; contacts?: number; chats?: number } = {}): Promise<Corp> {
  const corpid = `wwsync${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}${++seq}`;
  const sourceId = `sync-src-${seq}`;
  await db
    .prepare(
      `INSERT INTO event_sources (id, name, kind, secret, wecom_token, wecom_aes_key, wecom_corp_id) VALUES (?, ?, 'wecom', 'unused', ?, ?, ?)`,
    )
    .bind(sourceId, `企业微信 ${seq}`, TOKEN, AES_KEY, corpid)
    .run();
  await sim('/seed', {
    corpid,
    seed: corpid,
    followUsers: size.followUsers ?? 4,
    contacts: size.contacts ?? 60,
    chats: size.chats ?? 3,
    sharedShare: 0.2,
    contactSecret: `${corpid}-contact-secret`,
    callback: { url: `http://segflow.test/api/webhooks/wecom/${sourceId}`, token: TOKEN, encodingAesKey: AES_KEY },
  });
  const res = await api(
    '/api/wecom/connections',
    json({ corpId: corpid, contactSecret: `${corpid}-contact-secret`, eventSourceId: sourceId }),
  );
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { corpid, connectionId: res.body.id, sourceId };
}

// ---- the queue, as a test drives it ----
export interface Queued {
  body: WecomSyncMessage;
  attempts: number;
  delaySeconds: number;
}
/** `env` whose WECOM_SYNC keeps what is sent, for the test to deliver one by one. */
export function fakeQueue() {
  const sent: Queued[] = [];
  const queue = {
    send: async (body: WecomSyncMessage, o?: { delaySeconds?: number }) =>
      void sent.push({ body, attempts: 1, delaySeconds: o?.delaySeconds ?? 0 }),
    sendBatch: async (msgs: { body: WecomSyncMessage }[]) =>
      void msgs.forEach((m) => sent.push({ body: m.body, attempts: 1, delaySeconds: 0 })),
  };
  return { sent, env: { ...env, WECOM_SYNC: queue as unknown as Queue } as Env };
}
let msgSeq = 0;
/** Delivers one message to the consumer; answers whether it was acked, and a retried one goes back in the queue. */
export async function deliver(q: ReturnType<typeof fakeQueue>, m: Queued): Promise<'acked' | 'retried'> {
  const batch = createMessageBatch<WecomSyncMessage>('segflow-wecom-sync', [
    { id: `sync-${++msgSeq}`, timestamp: new Date(), attempts: m.attempts, body: m.body },
  ]);
  const ctx = createExecutionContext();
  await consumeWecomSync(batch as MessageBatch<unknown>, q.env);
  const r = await getQueueResult(batch, ctx);
  if (r.retryMessages.length) {
    q.sent.push({ ...m, attempts: m.attempts + 1 });
    return 'retried';
  }
  return 'acked';
}
/** Delivers until the queue is empty (or `until` says stop); answers how many deliveries. */
export async function drain(q: ReturnType<typeof fakeQueue>, until: (m: Queued) => boolean = () => false): Promise<number> {
  let n = 0;
  while (q.sent.length) {
    if (until(q.sent[0]!)) break;
    await deliver(q, q.sent.shift()!);
    if (++n > 2000) throw new Error('the backfill does not end');
  }
  return n;
}
export const runRow = (id: number) => db.prepare('SELECT * FROM wecom_sync_runs WHERE id = ?').bind(id).first<Record<string, any>>();

// ---- what D1 holds of a corp, as the simulator would show it ----
export async function simView(corpid: string) {
  const items: any[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await sim<{ total: number; items: any[] }>(`/corps/${corpid}/contacts?limit=1000&offset=${offset}`);
    items.push(...page.items);
    if (!page.items.length || items.length >= page.total) break;
  }
  const relations = items
    .flatMap((c) => c.follow_users.map((f: any) => `${f.userid}|${c.external_userid}|${[...f.tagIds].sort().join(',')}|${f.remark}`))
    .sort();
  const lib = await sim<{ groups: any[]; tags: any[] }>(`/corps/${corpid}/tags`);
  const tags = lib.tags
    .filter((t) => !t.deleted)
    .map((t) => `${t.id}|${lib.groups.find((g) => g.group_id === t.group_id).group_name}|${t.name}`)
    .sort();
  const chats = (await sim<any[]>(`/corps/${corpid}/chats`)).map((c) => `${c.chat_id}|${c.name}|${c.member_list.length}`).sort();
  const customers = items
    .filter((c) => c.follow_users.length > 0)
    .map((c) => `${c.external_userid}|${c.name}`)
    .sort();
  // a customer's corp tags: the union over its relations
  const held = items
    .flatMap((c) => [...new Set(c.follow_users.flatMap((f: any) => f.tagIds))].map((t) => `${c.external_userid}|${t}`))
    .sort();
  return { relations, tags, chats, customers, held };
}
export async function d1View(connectionId: number) {
  const all = async <T>(sql: string) => (await db.prepare(sql).bind(connectionId).all<T>()).results;
  const relations = (
    await all<{ userid: string; external_userid: string; tag_ids: string; remark: string }>(
      'SELECT userid, external_userid, tag_ids, remark FROM wecom_relations WHERE connection_id = ? AND deleted_at IS NULL',
    )
  )
    .map((r) => `${r.userid}|${r.external_userid}|${(JSON.parse(r.tag_ids) as string[]).sort().join(',')}|${r.remark}`)
    .sort();
  const tags = (
    await all<{ wecom_id: string; g: string; t: string }>(
      // the group as WeCom names it (a Segflow group of that name that is exclusive lands as "name（企业微信）")
      `SELECT m.wecom_id, gm.name AS g, t.name AS t FROM wecom_tag_map m JOIN tags t ON t.id = m.segflow_id
       JOIN wecom_tag_map gm ON gm.connection_id = m.connection_id AND gm.kind = 'group' AND gm.wecom_id = m.wecom_group_id AND gm.segflow_id = t.group_id
       WHERE m.connection_id = ? AND m.kind = 'tag' AND m.deleted_at IS NULL AND t.status = 'active'`,
    )
  )
    .map((r) => `${r.wecom_id}|${r.g}|${r.t}`)
    .sort();
  const chats = (
    await all<{ chat_id: string; name: string; n: number }>(
      `SELECT c.chat_id, c.name, (SELECT COUNT(*) FROM wecom_group_chat_members m WHERE m.connection_id = c.connection_id AND m.chat_id = c.chat_id) AS n
       FROM wecom_group_chats c WHERE c.connection_id = ? AND c.dismissed_at IS NULL`,
    )
  )
    .map((c) => `${c.chat_id}|${c.name}|${c.n}`)
    .sort();
  const customers = (
    await all<{ external_id: string; name: string }>(
      `SELECT external_id, name FROM contacts WHERE external_id IN
         (SELECT external_userid FROM wecom_relations WHERE connection_id = ? AND deleted_at IS NULL)`,
    )
  )
    .map((c) => `${c.external_id}|${c.name}`)
    .sort();
  const held = (
    await all<{ external_id: string; wecom_id: string }>(
      `SELECT c.external_id, m.wecom_id FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id
       JOIN wecom_tag_map m ON m.kind = 'tag' AND m.segflow_id = ct.tag_id AND m.deleted_at IS NULL WHERE m.connection_id = ?1
       AND c.external_id IN (SELECT external_userid FROM wecom_relations WHERE connection_id = ?1 AND deleted_at IS NULL)`,
    )
  )
    .map((r) => `${r.external_id}|${r.wecom_id}`)
    .sort();
  return { relations, tags, chats, customers, held };
}
/** Every ledger row of this corp's tags, and whether any (contact, tag) was added twice in a row. */
export async function ledgerOf(connectionId: number) {
  const { results } = await db
    .prepare(
      `SELECT l.contact_id, l.tag_id, l.op, l.source FROM tag_ledger l
       JOIN wecom_tag_map m ON m.kind = 'tag' AND m.segflow_id = l.tag_id WHERE m.connection_id = ? ORDER BY l.id`,
    )
    .bind(connectionId)
    .all<{ contact_id: number; tag_id: number; op: string; source: string }>();
  const last = new Map<string, string>();
  let doubled = 0;
  for (const r of results) {
    const k = `${r.contact_id}|${r.tag_id}`;
    if (last.get(k) === r.op) doubled++;
    last.set(k, r.op);
  }
  return { rows: results, doubled };
}

/** Posts every pending callback of `corpid` from the simulator's outbox to the app, as WeCom would. */
export async function deliverCallbacks(corpid: string): Promise<string[]> {
  const pending = await (await fetch(`http://wecom.test/__sim/callbacks?corpid=${corpid}`)).json<any[]>();
  const answers: string[] = [];
  for (const cb of pending) {
    const res = await exports.default.fetch(new Request(cb.href, { method: 'POST', headers: cb.headers, body: cb.body }));
    answers.push(`${res.status} ${await res.text()} ${res.headers.get('X-Segflow-Wecom')}`);
  }
  return answers;
}

export async function backfillByHand(corp: Corp) {
  const q = fakeQueue();
  const run = await startSync(q.env, corp.connectionId, ROOT_ACTOR, Date.now());
  await drain(q);
  return { q, run: (await runRow(run.id))! };
}
