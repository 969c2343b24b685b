/**
 * The pull from WeCom (worker/src/wecom/sync/) against the local WeCom simulator
 * (tools/wecom-sim at http://wecom.test), on the real D1 with the real migrations: a backfill
 * through the API and the real queue; backfills driven page by page through the queue consumer
 * (`consumeWecomSync` with batches built as the queue delivers them) to interrupt, redeliver and
 * storm them; callbacks from the simulator's outbox posted to the app's webhook route. Each test
 * seeds its own corp in the shared simulator.
 */
import { env } from 'cloudflare:workers';
import { createMessageBatch } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, eventually, seedSmallWorld } from './fixtures';
import { consumeWecomSyncDead } from '../src/wecom/sync/consume';
import { startSync } from '../src/wecom/sync/runs';
import type { WecomSyncMessage } from '../src/wecom/sync/message';
import type { WecomSyncRun, WecomSyncState } from '@shared/api/wecom';
import {
  backfillByHand,
  d1View,
  db,
  deliver,
  deliverCallbacks,
  DEPT_ADMIN,
  drain,
  fakeQueue,
  json,
  ledgerOf,
  ROOT_ACTOR,
  runRow,
  seedCorp,
  sim,
  simView,
  STAFF,
} from './wecom-sync-kit';

beforeAll(async () => {
  await seedSmallWorld();
});

describe('WeCom backfill', () => {
  it('through the API and the queue, ends with exactly the corp’s tags, customers, relations, tags per customer and group chats', async () => {
    const corp = await seedCorp({ followUsers: 5, contacts: 120, chats: 4 });
    const started = await api<WecomSyncRun>(`/api/wecom/connections/${corp.connectionId}/sync`, json({}));
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).toMatchObject({ status: 'running', phase: 'tags' });
    const done = await eventually(
      'the backfill finished',
      async () => {
        const s = await api<WecomSyncState>(`/api/wecom/connections/${corp.connectionId}/sync`);
        return s.body.latest?.status === 'finished' ? s.body : null;
      },
      60_000,
    );
    const want = await simView(corp.corpid);
    expect(await d1View(corp.connectionId)).toEqual(want);
    const summary = await sim(`/corps/${corp.corpid}`);
    expect(done.latest).toMatchObject({
      phase: 'done',
      counts: {
        tags: summary.counts.tags,
        tagGroups: summary.counts.tagGroups,
        followUsers: 5,
        relations: summary.counts.relations,
        customers: want.customers.length,
        chats: summary.counts.chats,
      },
      errors: [],
    });
    expect(done.lastFinished?.id).toBe(done.latest?.id);
    // contacts landed as WeCom customers with search keys; tags as ledger rows with source wecom
    const ext = want.customers[0]!.split('|')[0]!;
    const c = await db.prepare('SELECT id, kind FROM contacts WHERE external_id = ?').bind(ext).first<{ id: number; kind: string }>();
    expect(c?.kind).toBe('wecom_customer');
    expect(
      (await db.prepare(`SELECT COUNT(*) AS n FROM search_keys WHERE kind = 'contact' AND ref_id = ?`).bind(c!.id).first<number>('n'))!,
    ).toBeGreaterThan(0);
    const ledger = await ledgerOf(corp.connectionId);
    expect(ledger.rows.length).toBe(want.held.length);
    expect(new Set(ledger.rows.map((r) => `${r.op}/${r.source}`))).toEqual(new Set(['add/wecom']));
    const audit = await db
      .prepare(
        `SELECT action, summary FROM audit_log WHERE object_type = 'wecom_connection' AND object_id = ? AND action = 'wecom_connection.sync'`,
      )
      .bind(String(corp.connectionId))
      .all();
    expect(audit.results).toHaveLength(1);
  });

  it('interrupted mid-contacts (a WeCom error, a page delivered twice) resumes from its last page: identical, nothing doubled', async () => {
    const corp = await seedCorp({ followUsers: 4, contacts: 250, chats: 2 });
    const q = fakeQueue();
    const run = await startSync(q.env, corp.connectionId, ROOT_ACTOR, Date.now());
    // page by page until two pages of contacts are in
    for (;;) {
      const r = (await runRow(run.id))!;
      if (r.phase === 'contacts' && r.relations >= 200) break;
      expect(q.sent.length).toBeGreaterThan(0);
      await deliver(q, q.sent.shift()!);
    }
    const before = (await runRow(run.id))!;
    // WeCom fails the next page (48002: API forbidden): the page is retried, the error kept in words, nothing moved
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/batch/get_by_user', errcode: 48002, count: 1 });
    const page = q.sent.shift()!;
    expect(await deliver(q, page)).toBe('retried');
    const failed = (await runRow(run.id))!;
    expect(failed).toMatchObject({ step: before.step, relations: before.relations, cursor: before.cursor, status: 'running' });
    expect(JSON.parse(failed.errors)).toEqual([
      expect.objectContaining({ phase: 'contacts', errcode: 48002, words: expect.objectContaining({ 'zh-CN': expect.any(String) }) }),
    ]);
    // the last page written delivered again (at-least-once): stale, acked, nothing written
    expect(await deliver(q, { body: { v: 1, type: 'step', runId: run.id, step: before.step - 1 }, attempts: 1, delaySeconds: 0 })).toBe(
      'acked',
    );
    expect((await runRow(run.id))!.step).toBe(before.step);
    // the retried page and the rest
    await drain(q);
    const after = (await runRow(run.id))!;
    expect(after.status).toBe('finished');
    const want = await simView(corp.corpid);
    expect(await d1View(corp.connectionId)).toEqual(want);
    expect(after.relations).toBe(want.relations.length);
    const ledger = await ledgerOf(corp.connectionId);
    expect(ledger.doubled).toBe(0);
    expect(ledger.rows.length).toBe(want.held.length);
    const dupContacts = await db
      .prepare('SELECT COUNT(*) AS n FROM (SELECT external_id FROM contacts GROUP BY external_id HAVING COUNT(*) > 1)')
      .first<number>('n');
    expect(dupContacts).toBe(0);

    // a second backfill of the same corp changes nothing: no new ledger rows, the same rows
    await backfillByHand(corp);
    expect(await d1View(corp.connectionId)).toEqual(want);
    expect((await ledgerOf(corp.connectionId)).rows.length).toBe(want.held.length);
  });

  it('a page that fails every delivery stops the run (dead-letter queue); Resume carries on from that page and ends identical', async () => {
    const corp = await seedCorp({ followUsers: 3, contacts: 150, chats: 2 });
    const q = fakeQueue();
    const run = await startSync(q.env, corp.connectionId, ROOT_ACTOR, Date.now());
    for (;;) {
      const r = (await runRow(run.id))!;
      if (r.phase === 'contacts' && r.relations >= 100) break;
      await deliver(q, q.sent.shift()!);
    }
    const at = (await runRow(run.id))!;
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/batch/get_by_user', errcode: 60011, count: 1 });
    const page = q.sent.shift()!;
    expect(await deliver(q, page)).toBe('retried');
    // its last delivery failed too: the queue moves it to the dead-letter queue
    const dead = createMessageBatch<WecomSyncMessage>('segflow-wecom-sync-dead', [
      { id: 'sync-dead-1', timestamp: new Date(), attempts: 1, body: page.body },
    ]);
    await consumeWecomSyncDead(dead as MessageBatch<unknown>, env);
    const stopped = await api<WecomSyncState>(`/api/wecom/connections/${corp.connectionId}/sync`);
    expect(stopped.body.latest).toMatchObject({ id: run.id, status: 'failed', phase: 'contacts', pages: at.step });
    expect(stopped.body.latest!.errors.at(-1)).toMatchObject({ errcode: 60011 });

    const resumed = await api<WecomSyncRun>(`/api/wecom/connections/${corp.connectionId}/sync/resume`, json({}));
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(202);
    expect(resumed.body).toMatchObject({ id: run.id, status: 'running', pages: at.step });
    await eventually('the resumed backfill finished', async () => (await runRow(run.id))!.status === 'finished', 60_000);
    const want = await simView(corp.corpid);
    expect(await d1View(corp.connectionId)).toEqual(want);
    expect((await runRow(run.id))!.relations).toBe(want.relations.length);
    expect((await ledgerOf(corp.connectionId)).doubled).toBe(0);
    // nothing left to resume
    expect((await api(`/api/wecom/connections/${corp.connectionId}/sync/resume`, json({}))).status).toBe(409);
  });

  it('a relation gone in WeCom without a callback is marked gone by the next backfill, and the customer loses its tags (source wecom)', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 30, chats: 0 });
    await backfillByHand(corp);
    const { items } = await sim<{ items: any[] }>(`/corps/${corp.corpid}/contacts?limit=50`);
    const c = items.find((x) => x.follow_users.length === 1 && x.follow_users[0].tagIds.length > 0)!;
    const contactId = (await db.prepare('SELECT id FROM contacts WHERE external_id = ?').bind(c.external_userid).first<number>('id'))!;
    const mapped = `SELECT COUNT(*) AS n FROM contact_tags ct JOIN wecom_tag_map m ON m.kind = 'tag' AND m.segflow_id = ct.tag_id
      WHERE m.connection_id = ? AND ct.contact_id = ?`;
    const held = await db.prepare(mapped).bind(corp.connectionId, contactId).first<number>('n');
    expect(held).toBeGreaterThan(0);
    await sim(`/corps/${corp.corpid}/changes/del-contact`, { userid: c.follow_users[0].userid, external_userid: c.external_userid });
    // the callback never arrives (taken off the outbox, not delivered)
    await fetch(`http://wecom.test/__sim/callbacks?corpid=${corp.corpid}`);
    const { run } = await backfillByHand(corp);
    expect(run.status).toBe('finished');
    expect(await d1View(corp.connectionId)).toEqual(await simView(corp.corpid));
    expect(await db.prepare(mapped).bind(corp.connectionId, contactId).first<number>('n')).toBe(0);
    const removed = await db
      .prepare(`SELECT COUNT(*) AS n FROM tag_ledger WHERE contact_id = ? AND op = 'remove' AND source = 'wecom' AND batch_id = ?`)
      .bind(contactId, `wecom-sync:${run.id}`)
      .first<number>('n');
    expect(removed).toBe(held);
  });

  it('survives a 45009 storm: waits as WeCom asks (no delivery attempt spent) and completes after it', async () => {
    const corp = await seedCorp({ followUsers: 3, contacts: 80, chats: 1 });
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/batch/get_by_user', errcode: 45009, durationMs: 4_000 });
    const { q, run } = await backfillByHand(corp);
    expect(q.sent).toHaveLength(0);
    expect(run.status).toBe('finished');
    expect(run.rate_limit_waits).toBeGreaterThan(0);
    expect(await d1View(corp.connectionId)).toEqual(await simView(corp.corpid));
  });

  it('answers 403 to anyone but a super admin, and 409 naming the running backfill to a second start', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 40, chats: 1 });
    for (const u of [DEPT_ADMIN, STAFF]) {
      expect((await apiAs(u, `/api/wecom/connections/${corp.connectionId}/sync`)).status).toBe(403);
      expect((await apiAs(u, `/api/wecom/connections/${corp.connectionId}/sync`, json({}))).status).toBe(403);
    }
    // slow WeCom: the first run is still running when the second start comes
    const res = await fetch(`http://wecom.test/__sim/corps/${corp.corpid}/limits`, {
      method: 'PUT',
      body: JSON.stringify({ latencyMs: 400 }),
    });
    expect(res.status).toBe(200);
    const first = await api<WecomSyncRun>(`/api/wecom/connections/${corp.connectionId}/sync`, json({}));
    expect(first.status).toBe(202);
    const second = await api(`/api/wecom/connections/${corp.connectionId}/sync`, json({}));
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain(`#${first.body.id}`);
    await eventually('the first backfill finished', async () => (await runRow(first.body.id))!.status === 'finished', 60_000);
    expect((await api(`/api/wecom/connections/${corp.connectionId}/sync`, json({}))).status).toBe(202);
  });
});

describe('WeCom incremental sync (callbacks)', () => {
  it('a tag a member adds in WeCom arrives by callback as a ledger row with source wecom; removing it too', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 20, chats: 1 });
    await backfillByHand(corp);
    const { items } = await sim<{ items: any[] }>(`/corps/${corp.corpid}/contacts?limit=50`);
    const c = items.find((x) => x.follow_users.length > 0)!;
    const rel = c.follow_users[0];
    const lib = await sim<{ tags: any[] }>(`/corps/${corp.corpid}/tags`);
    const tag = lib.tags.find((t) => !t.deleted && !c.follow_users.some((f: any) => f.tagIds.includes(t.id)))!;
    const segflowTag = (await db
      .prepare(`SELECT segflow_id FROM wecom_tag_map WHERE connection_id = ? AND kind = 'tag' AND wecom_id = ?`)
      .bind(corp.connectionId, tag.id)
      .first<number>('segflow_id'))!;
    const contactId = (await db.prepare('SELECT id FROM contacts WHERE external_id = ?').bind(c.external_userid).first<number>('id'))!;

    await sim(`/corps/${corp.corpid}/changes/mark-tag`, { userid: rel.userid, external_userid: c.external_userid, add_tag: [tag.id] });
    const answers = await deliverCallbacks(corp.corpid);
    expect(answers).toEqual([expect.stringMatching(/^200 success .*queued for sync/)]);
    const ledgerRow = (op: string) =>
      db
        .prepare(`SELECT op, source FROM tag_ledger WHERE contact_id = ? AND tag_id = ? AND op = ? ORDER BY id DESC LIMIT 1`)
        .bind(contactId, segflowTag, op)
        .first<{ op: string; source: string }>();
    expect(await eventually('the tag added by callback', () => ledgerRow('add'))).toEqual({ op: 'add', source: 'wecom' });
    const rels = await db
      .prepare('SELECT tag_ids FROM wecom_relations WHERE connection_id = ? AND userid = ? AND external_userid = ?')
      .bind(corp.connectionId, rel.userid, c.external_userid)
      .first<string>('tag_ids');
    expect(JSON.parse(rels!)).toContain(tag.id);

    await sim(`/corps/${corp.corpid}/changes/mark-tag`, { userid: rel.userid, external_userid: c.external_userid, remove_tag: [tag.id] });
    await deliverCallbacks(corp.corpid);
    expect(await eventually('the tag removed by callback', () => ledgerRow('remove'))).toEqual({ op: 'remove', source: 'wecom' });
    expect(
      await db.prepare('SELECT 1 AS x FROM contact_tags WHERE contact_id = ? AND tag_id = ?').bind(contactId, segflowTag).first(),
    ).toBeNull();
  });

  it('a tag deleted in WeCom is retired here (not deleted), its holders losing it with source wecom; a new one is created', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 30, chats: 0 });
    await backfillByHand(corp);
    // the most held tag
    const held = await db
      .prepare(
        `SELECT m.wecom_id, m.segflow_id, COUNT(*) AS n FROM contact_tags ct JOIN wecom_tag_map m ON m.kind = 'tag' AND m.segflow_id = ct.tag_id
         WHERE m.connection_id = ? GROUP BY 1, 2 ORDER BY n DESC LIMIT 1`,
      )
      .bind(corp.connectionId)
      .first<{ wecom_id: string; segflow_id: number; n: number }>();
    expect(held!.n).toBeGreaterThan(0);
    await sim(`/corps/${corp.corpid}/changes/delete-tag`, { tag_id: [held!.wecom_id] });
    expect(await deliverCallbacks(corp.corpid)).toHaveLength(1);
    const retired = await eventually('the tag retired', async () => {
      const t = await db.prepare('SELECT status, retired_at FROM tags WHERE id = ?').bind(held!.segflow_id).first<{ status: string }>();
      return t?.status === 'retired' ? t : null;
    });
    expect(retired.status).toBe('retired');
    expect(await db.prepare('SELECT COUNT(*) AS n FROM contact_tags WHERE tag_id = ?').bind(held!.segflow_id).first<number>('n')).toBe(0);
    const removed = await db
      .prepare(`SELECT COUNT(*) AS n FROM tag_ledger WHERE tag_id = ? AND op = 'remove' AND source = 'wecom'`)
      .bind(held!.segflow_id)
      .first<number>('n');
    expect(removed).toBe(held!.n);

    await sim(`/corps/${corp.corpid}/changes/create-tag`, { group_name: '同步新组', tag: [{ name: '来自企微的新标签' }] });
    await deliverCallbacks(corp.corpid);
    await eventually('the new tag created here', () =>
      db
        .prepare(`SELECT t.id FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE g.name = '同步新组' AND t.name = '来自企微的新标签'`)
        .first(),
    );
    expect((await d1View(corp.connectionId)).tags).toEqual((await simView(corp.corpid)).tags);
  });

  it('a group chat renamed and then dismissed in WeCom is re-read by callback (groupchat/get) and marked dismissed', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 10, chats: 2 });
    await backfillByHand(corp);
    const [chat] = await sim<any[]>(`/corps/${corp.corpid}/chats`);
    const chatRow = () =>
      db
        .prepare('SELECT name, dismissed_at FROM wecom_group_chats WHERE connection_id = ? AND chat_id = ?')
        .bind(corp.connectionId, chat.chat_id)
        .first<{ name: string; dismissed_at: number | null }>();
    await sim(`/corps/${corp.corpid}/changes/chat-rename`, { chat_id: chat.chat_id, name: '企微里改的群名' });
    expect(await deliverCallbacks(corp.corpid)).toEqual([expect.stringMatching(/^200 success .*queued for sync/)]);
    await eventually('the chat renamed here', async () => (await chatRow())?.name === '企微里改的群名');
    await sim(`/corps/${corp.corpid}/changes/chat-dismiss`, { chat_id: chat.chat_id });
    await deliverCallbacks(corp.corpid);
    await eventually('the chat dismissed here', async () => (await chatRow())?.dismissed_at != null);
  });
});
