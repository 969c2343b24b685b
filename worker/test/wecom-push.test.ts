/**
 * The push to WeCom (worker/src/wecom/push/, docs/wecom-push.md) against the local WeCom
 * simulator (tools/wecom-sim at http://wecom.test), on the real D1 with the real migrations. Each
 * test seeds its own corp (ids `wwpush…`) and its own tag groups.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { consumeWecomSync, consumeWecomSyncDead } from '../src/wecom/sync/consume';
import { pushTick } from '../src/wecom/push/tick';
import { tagChangeStatements } from '../src/tagging/tag-writer';
import type { WecomSyncMessage } from '../src/wecom/sync/message';
import { startSync } from '../src/wecom/sync/runs';
import { applyHint } from '../src/wecom/sync/hints';
import { drainPushes } from '../src/wecom/push/push';
import { mirrorConnection } from '../src/wecom/push/mirror';
import { tagPath, wecomTagName } from '../src/wecom/push/mapping';
import { WecomClient } from '../src/wecom/client';
import { libraryStatements, type WecomTagGroupIn } from '../src/wecom/sync/library';
import {
  addCorpTagCalls,
  drainQueue,
  fakeQueue,
  library,
  mapRows,
  markTagCalls,
  nextMsgId,
  publishAddTag,
  pulledCorpWithSyncedGroup,
  seedCorp,
  seq,
  sim,
  simRelations,
  syncedGroup,
} from './wecom-kit';

const db = env.DB;

describe('mapping Segflow levels onto WeCom group → tag', () => {
  it('names a tag of any level by its path and refuses names over 30 characters', () => {
    const byId = new Map([
      [1, { id: 1, parentId: null, name: '高价值' }],
      [2, { id: 2, parentId: 1, name: '复购' }],
      [3, { id: 3, parentId: 2, name: '季度' }],
    ]);
    expect(wecomTagName(tagPath(byId.get(3)!, byId))).toBe('高价值/复购/季度');
    expect(wecomTagName(tagPath(byId.get(1)!, byId))).toBe('高价值');
    expect(wecomTagName(['一'.repeat(20), '二'.repeat(10)])).toBeNull();
    expect(wecomTagName(['一'.repeat(14), '二'.repeat(15)])).toBe(`${'一'.repeat(14)}/${'二'.repeat(15)}`);
  });
});

describe('mirror: synced tag groups as corp tags created by the app', () => {
  it('creates the group and every level as corp tags, maps them as ours, and a second run creates nothing', async () => {
    const corp = await seedCorp();
    const name = `镜像${seq}`;
    const { groupId, ids } = await syncedGroup(name, [['高价值'], ['高价值', '复购'], ['高价值', '复购', '季度'], ['流失预警']]);
    const before = (await library(corp.corpid)).tags.length;

    const r = await mirrorConnection(env, corp.connectionId);
    expect(r).toMatchObject({ status: 'ok', createdGroups: 1, createdTags: 4, adopted: 0, skipped: [], wecomTags: before + 4 });

    const lib = await library(corp.corpid);
    const group = lib.groups.find((g) => g.group_name === name);
    expect(group).toBeTruthy();
    const inGroup = lib.tags.filter((t) => t.group_id === group.group_id);
    expect(inGroup.map((t) => t.name).sort()).toEqual(['流失预警', '高价值', '高价值/复购', '高价值/复购/季度'].sort());
    // created by the app (the simulator remembers the creator), so ours to edit
    expect(new Set(inGroup.map((t) => t.createdBy))).toEqual(new Set(['contact']));

    const rows = await mapRows(corp.connectionId);
    expect(rows.find((m) => m.kind === 'group')).toMatchObject({ wecom_id: group.group_id, segflow_id: groupId, origin: 'segflow' });
    const tagRows = rows.filter((m) => m.kind === 'tag');
    expect(tagRows).toHaveLength(4);
    for (const t of inGroup) {
      expect(tagRows.find((m) => m.wecom_id === t.id)).toMatchObject({ segflow_id: ids.get(t.name), name: t.name, origin: 'segflow' });
    }

    const calls = await addCorpTagCalls(corp.corpid);
    const again = await mirrorConnection(env, corp.connectionId);
    expect(again).toMatchObject({ status: 'ok', createdGroups: 0, createdTags: 0, adopted: 0 });
    expect(await addCorpTagCalls(corp.corpid)).toBe(calls);
    expect((await library(corp.corpid)).tags).toHaveLength(before + 4);
    expect(await mapRows(corp.connectionId)).toHaveLength(5);

    // a tag added to the synced group later is created into the mapped group
    await db.prepare(`INSERT INTO tags (group_id, level, name) VALUES (?, 1, '后来加的')`).bind(groupId).run();
    expect(await mirrorConnection(env, corp.connectionId)).toMatchObject({ createdGroups: 0, createdTags: 1 });
    const after = await library(corp.corpid);
    expect(after.tags.find((t) => t.name === '后来加的')?.group_id).toBe(group.group_id);
    const state = await db
      .prepare('SELECT created_tags, wecom_tag_count FROM wecom_push_state WHERE connection_id = ?')
      .bind(corp.connectionId)
      .first();
    expect(state).toEqual({ created_tags: 5, wecom_tag_count: before + 5 });
  });

  it('is read back by the pull as the same groups and tags: nothing created, renamed or retired, still ours', async () => {
    const corp = await seedCorp();
    const { groupId } = await syncedGroup(`回读${seq}`, [['甲'], ['甲', '乙'], ['甲', '乙', '丙']]);
    await mirrorConnection(env, corp.connectionId);
    const count = async () =>
      db.prepare(`SELECT (SELECT COUNT(*) FROM tag_groups) AS g, (SELECT COUNT(*) FROM tags WHERE status = 'active') AS t`).first();
    const mirrored = await mapRows(corp.connectionId);
    const tagsOfGroup = async () =>
      (await db.prepare('SELECT id, name, status FROM tags WHERE group_id = ? ORDER BY id').bind(groupId).all()).results;
    const [before, tagsBefore] = [await count(), await tagsOfGroup()];

    // the backfill's first page, as the pull runs it
    const client = new WecomClient(env, corp.connectionId, 'contact');
    const lib = await client.post<{ tag_group?: WecomTagGroupIn[] }>('/cgi-bin/externalcontact/get_corp_tag_list', {});
    const { statements } = await libraryStatements(db, corp.connectionId, corp.corpid, lib.tag_group ?? [], {
      source: 'wecom',
      at: Date.now(),
    });
    await db.batch(statements);

    expect(await tagsOfGroup()).toEqual(tagsBefore);
    const after = await mapRows(corp.connectionId);
    for (const m of mirrored) expect(after).toContainEqual(m);
    // the seeded library's own groups and tags came in; ours were not created a second time
    const seeded = (lib.tag_group ?? []).filter((g) => g.group_name !== `回读${seq}`);
    expect(await count()).toEqual({
      g: (before as any).g + seeded.length,
      t: (before as any).t + seeded.reduce((n, g) => n + (g.tag?.length ?? 0), 0),
    });
  });

  it('adopts a WeCom group and tag of the same name made in the console, as not ours, and creates only the rest', async () => {
    const corp = await seedCorp();
    const name = `已有${seq}`;
    // an admin made the group with one tag in WeCom's console: an app may not edit those (301002)
    await sim(`/corps/${corp.corpid}/changes/create-tag`, { group_name: name, tag: [{ name: '高价值' }] });
    const { ids } = await syncedGroup(name, [['高价值'], ['沉睡']]);

    const r = await mirrorConnection(env, corp.connectionId);
    expect(r).toMatchObject({ status: 'ok', createdGroups: 0, createdTags: 1, adopted: 2 });
    const lib = await library(corp.corpid);
    const groups = lib.groups.filter((g) => g.group_name === name);
    expect(groups).toHaveLength(1);
    expect(
      lib.tags
        .filter((t) => t.group_id === groups[0].group_id)
        .map((t) => t.name)
        .sort(),
    ).toEqual(['沉睡', '高价值'].sort());
    const rows = await mapRows(corp.connectionId);
    expect(rows.find((m) => m.kind === 'group' && m.wecom_id === groups[0].group_id)?.origin).toBe('wecom');
    expect(rows.find((m) => m.segflow_id === ids.get('高价值') && m.kind === 'tag')?.origin).toBe('wecom');
    expect(rows.find((m) => m.segflow_id === ids.get('沉睡') && m.kind === 'tag')?.origin).toBe('segflow');
  });

  it('skips a tag whose path is longer than WeCom allows, naming it, and mirrors the others', async () => {
    const corp = await seedCorp();
    const long = ['一'.repeat(12), '二'.repeat(12), '三'.repeat(12)];
    const { ids } = await syncedGroup(`长名${seq}`, [['短'], long.slice(0, 1), long.slice(0, 2), long]);
    const r = await mirrorConnection(env, corp.connectionId);
    expect(r).toMatchObject({ status: 'ok', createdTags: 3 });
    expect(r.status === 'ok' && r.skipped).toEqual([
      { kind: 'tag', segflowId: ids.get(long.join('/')), name: long.join('/'), reason: 'name_too_long' },
    ]);
  });

  it('creates nothing when the company would pass 10,000 corp tags, and says so with both counts', async () => {
    const corp = await seedCorp();
    const { tags: have } = await library(corp.corpid);
    // fill the company up to 9,999 corp tags in the console
    const fill = Array.from({ length: 9_999 - have.length }, (_, i) => ({ name: `填充${i}` }));
    await sim(`/corps/${corp.corpid}/changes/create-tag`, { group_name: '填充', tag: fill });
    await syncedGroup(`上限${seq}`, [['甲'], ['乙']]);

    const calls = await addCorpTagCalls(corp.corpid);
    const r = await mirrorConnection(env, corp.connectionId);
    expect(r).toEqual({ status: 'limit', wecomTags: 9_999, toCreate: 2, limit: 10_000 });
    expect(await addCorpTagCalls(corp.corpid)).toBe(calls);
    expect((await library(corp.corpid)).tags).toHaveLength(9_999);
  });
});

describe('push: Segflow-owned tag changes reach WeCom with one mark_tag per relation', () => {
  it("pushes a published rule's tag to every follow-user relation of every customer, once", async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('甲')!;
    const corpTag = await corp.wecomId(tagId);
    const relations = await simRelations(corp.corpid);
    const customers = new Set([...relations.keys()].map((k) => k.split('|')[1]));
    expect(relations.size).toBeGreaterThan(customers.size); // some customers have several follow users

    await publishAddTag(`推送规则${seq}`, tagId);
    const drained = await drainPushes(corp.q.env, corp.connectionId);
    expect(drained.queued).toBe(customers.size);
    await drainQueue(corp.q);

    const after = await simRelations(corp.corpid);
    for (const [k, tags] of after) expect(tags, k).toContain(corpTag);
    expect(await markTagCalls(corp.corpid)).toBe(relations.size);
    // WeCom's new state is what Segflow believes, and the log says sent
    const rel = await db
      .prepare(`SELECT COUNT(*) AS n FROM wecom_relations WHERE connection_id = ? AND deleted_at IS NULL AND tag_ids LIKE ?`)
      .bind(corp.connectionId, `%${corpTag}%`)
      .first<number>('n');
    expect(rel).toBe(relations.size);
    const log = await db
      .prepare(`SELECT status, COUNT(*) AS n FROM wecom_push_log WHERE connection_id = ? GROUP BY status`)
      .bind(corp.connectionId)
      .all();
    expect(log.results).toEqual([{ status: 'sent', n: customers.size }]);

    // nothing new in the ledger: nothing queued; a push delivered again calls WeCom for nothing
    expect((await drainPushes(corp.q.env, corp.connectionId)).queued).toBe(0);
    const contactId = (await db
      .prepare('SELECT contact_id FROM wecom_push_log WHERE connection_id = ? LIMIT 1')
      .bind(corp.connectionId)
      .first<number>('contact_id'))!;
    corp.q.sent.push({ body: { v: 1, type: 'push', connectionId: corp.connectionId, contactId }, attempts: 1 });
    await drainQueue(corp.q);
    expect(await markTagCalls(corp.corpid)).toBe(relations.size);
  });

  it('survives a 45009 storm on mark_tag: waits it out without spending delivery attempts, every relation marked once', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('甲')!;
    const corpTag = await corp.wecomId(tagId);
    const relations = await simRelations(corp.corpid);
    await publishAddTag(`风暴规则${seq}`, tagId);
    await drainPushes(corp.q.env, corp.connectionId);
    // the next 10 mark_tag calls answer 45009: more than one call's own retries (1 + 3)
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/mark_tag', errcode: 45009, count: 10 });
    const deliveries = await drainQueue(corp.q);
    const customers = new Set([...relations.keys()].map((k) => k.split('|')[1])).size;
    expect(deliveries).toBeGreaterThan(customers); // some were sent again after the limit
    for (const [k, tags] of await simRelations(corp.corpid)) expect(tags, k).toContain(corpTag);
    expect(await markTagCalls(corp.corpid)).toBe(relations.size + 10);
    const log = await db
      .prepare(`SELECT status, attempts, COUNT(*) AS n FROM wecom_push_log WHERE connection_id = ? GROUP BY status, attempts`)
      .bind(corp.connectionId)
      .all();
    expect(log.results).toEqual([{ status: 'sent', attempts: 0, n: customers }]);
  });

  it('never pushes back a change that came from WeCom (ledger source wecom): no loop', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('乙')!;
    const relations = await simRelations(corp.corpid);
    const ext = [...relations.keys()][0]!.split('|')[1]!;
    const contactId = (await db.prepare('SELECT id FROM contacts WHERE external_id = ?').bind(ext).first<number>('id'))!;
    // a write of the pull (as when WeCom deletes a tag, or a relation vanishes): source wecom
    await db.batch(tagChangeStatements(db, [{ contactId, tagId, op: 'add' }], { source: 'wecom', at: Date.now() }));
    const calls = await markTagCalls(corp.corpid);
    expect(await drainPushes(corp.q.env, corp.connectionId)).toMatchObject({ scanned: 1, queued: 0 });
    expect(corp.q.sent).toHaveLength(0);
    expect(await markTagCalls(corp.corpid)).toBe(calls);
  });

  it('Segflow owns: a tag added in WeCom by hand is not taken, is counted, and is reverted by the next push', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('乙')!;
    const corpTag = await corp.wecomId(tagId);
    const relations = await simRelations(corp.corpid);
    const [userid, ext] = [...relations.keys()][0]!.split('|') as [string, string];
    await sim(`/corps/${corp.corpid}/changes/mark-tag`, { userid, external_userid: ext, add_tag: [corpTag] });
    // its callback's hint, as the WeCom queue applies it
    await applyHint(corp.q.env, corp.connectionId, {
      kind: 'contact',
      id: `own-${seq}`,
      userId: userid,
      externalUserId: ext,
      changeType: 'edit_external_contact',
    });
    const ledger = await db
      .prepare(`SELECT COUNT(*) AS n FROM tag_ledger l JOIN contacts c ON c.id = l.contact_id WHERE c.external_id = ? AND l.tag_id = ?`)
      .bind(ext, tagId)
      .first<number>('n');
    expect(ledger).toBe(0); // Segflow's holding did not change
    const reverted = () =>
      db.prepare('SELECT reverted FROM wecom_push_state WHERE connection_id = ?').bind(corp.connectionId).first<number>('reverted');
    expect(await reverted()).toBe(1);
    expect(corp.q.sent.map((m) => m.body.type)).toEqual(['push']);

    await drainQueue(corp.q);
    expect((await simRelations(corp.corpid)).get(`${userid}|${ext}`)).not.toContain(corpTag);
    // WeCom sends no callback for an API change: nothing more to pull, nothing more to revert
    expect(await reverted()).toBe(1);
  });

  it('Segflow owns: a manual WeCom edit found by a backfill (no callback) is counted and reverted too', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('甲')!;
    const corpTag = await corp.wecomId(tagId);
    await publishAddTag(`回滚规则${seq}`, tagId);
    await drainPushes(corp.q.env, corp.connectionId);
    await drainQueue(corp.q);
    const [key] = [...(await simRelations(corp.corpid)).entries()].find(([, tags]) => tags.includes(corpTag))!;
    const [userid, ext] = key.split('|') as [string, string];
    // removed by hand in WeCom; its callback never arrives
    await sim(`/corps/${corp.corpid}/changes/mark-tag`, { userid, external_userid: ext, remove_tag: [corpTag] });
    await sim(`/callbacks?corpid=${corp.corpid}`, undefined, 'GET');

    await startSync(corp.q.env, corp.connectionId, { userId: 9001, ip: null }, Date.now());
    await drainQueue(corp.q); // the backfill's pages, then the revert it queued
    expect((await simRelations(corp.corpid)).get(key)).toContain(corpTag);
    expect(
      await db.prepare('SELECT reverted FROM wecom_push_state WHERE connection_id = ?').bind(corp.connectionId).first('reverted'),
    ).toBe(1);
    // the contact still holds the tag in Segflow: the backfill did not take the removal
    const held = await db
      .prepare(
        'SELECT COUNT(*) AS n FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE c.external_id = ? AND ct.tag_id = ?',
      )
      .bind(ext, tagId)
      .first('n');
    expect(held).toBe(1);
  });

  it('keeps the errcode of a failing push and marks it dead after the last attempt', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('甲')!;
    await publishAddTag(`死信规则${seq}`, tagId);
    await drainPushes(corp.q.env, corp.connectionId);
    const first = corp.q.sent.shift()!;
    corp.q.sent.length = 0;
    // WeCom refuses every mark_tag: 48002 (API not authorised), not a limit
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/mark_tag', errcode: 48002, count: 1000 });
    const batch = (attempts: number) =>
      createMessageBatch<WecomSyncMessage>('segflow-wecom-sync', [
        { id: nextMsgId('dead'), timestamp: new Date(), attempts, body: first.body },
      ]);
    for (let attempts = 1; attempts <= 6; attempts++) {
      const b = batch(attempts);
      const ctx = createExecutionContext();
      await consumeWecomSync(b as MessageBatch<unknown>, corp.q.env);
      expect((await getQueueResult(b, ctx)).retryMessages).toHaveLength(1);
    }
    const contactId = first.body.type === 'push' ? first.body.contactId : 0;
    const logRow = () =>
      db
        .prepare('SELECT status, attempts, errcode FROM wecom_push_log WHERE connection_id = ? AND contact_id = ?')
        .bind(corp.connectionId, contactId)
        .first();
    expect(await logRow()).toEqual({ status: 'queued', attempts: 6, errcode: 48002 });
    // the queue gives up: the dead-letter consumer marks it dead, keeping the errcode for the screen
    await consumeWecomSyncDead(batch(7) as MessageBatch<unknown>, corp.q.env);
    expect(await logRow()).toEqual({ status: 'dead', attempts: 6, errcode: 48002 });
  });

  it('from the cron: a newly synced group is mirrored, its existing holders pushed, and later changes drained', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 5 });
    const q = fakeQueue();
    await startSync(q.env, corp.connectionId, { userId: 9001, ip: null }, Date.now());
    await drainQueue(q);
    await drainPushes(q.env, corp.connectionId);
    q.sent.length = 0;
    // customers hold a Segflow tag by hand before its group is synced
    const { results: contacts } = await db
      .prepare(
        `SELECT DISTINCT c.id, c.external_id FROM contacts c JOIN wecom_relations r ON r.external_userid = c.external_id
         WHERE r.connection_id = ? AND r.deleted_at IS NULL ORDER BY c.id`,
      )
      .bind(corp.connectionId)
      .all<{ id: number; external_id: string }>();
    const { ids } = await syncedGroup(`定时${seq}`, [['手工'], ['规则']]);
    await db.prepare('UPDATE tag_groups SET wecom_sync = 0 WHERE name = ?').bind(`定时${seq}`).run();
    const manual = ids.get('手工')!;
    await db.batch(
      tagChangeStatements(
        db,
        contacts.slice(0, 2).map((c) => ({ contactId: c.id, tagId: manual, op: 'add' as const })),
        { source: 'manual', actorUserId: 9001, at: Date.now() },
      ),
    );
    await drainPushes(q.env, corp.connectionId); // the group is not synced yet: nothing to push
    expect(q.sent).toHaveLength(0);

    await db.prepare('UPDATE tag_groups SET wecom_sync = 1 WHERE name = ?').bind(`定时${seq}`).run();
    const errors: string[] = [];
    const tick = await pushTick(q.env, Date.now(), errors);
    // (the corp an earlier test filled to 9,999 corp tags cannot take this group: reported, not thrown)
    expect(errors.filter((e) => e.includes(corp.corpid))).toEqual([]);
    expect(tick.createdTags).toBeGreaterThanOrEqual(2);
    const mine = q.sent.filter((m) => m.body.type === 'push' && m.body.connectionId === corp.connectionId);
    expect(mine.map((m) => (m.body.type === 'push' ? m.body.contactId : 0)).sort()).toEqual(
      contacts
        .slice(0, 2)
        .map((c) => c.id)
        .sort(),
    );
    await drainQueue(q);
    const corpTag = (await db
      .prepare(`SELECT wecom_id FROM wecom_tag_map WHERE connection_id = ? AND kind = 'tag' AND segflow_id = ?`)
      .bind(corp.connectionId, manual)
      .first<string>('wecom_id'))!;
    const rels = await simRelations(corp.corpid);
    for (const [k, tags] of rels) {
      const held = contacts.slice(0, 2).some((c) => k.endsWith(`|${c.external_id}`));
      expect(tags.includes(corpTag), k).toBe(held);
    }

    // a later removal by hand reaches WeCom at the next tick
    await db.batch(
      tagChangeStatements(db, [{ contactId: contacts[0]!.id, tagId: manual, op: 'remove' }], {
        source: 'manual',
        actorUserId: 9001,
        at: Date.now(),
      }),
    );
    await pushTick(q.env, Date.now(), errors);
    await drainQueue(q);
    for (const [k, tags] of await simRelations(corp.corpid)) {
      if (k.endsWith(`|${contacts[0]!.external_id}`)) expect(tags).not.toContain(corpTag);
      if (k.endsWith(`|${contacts[1]!.external_id}`)) expect(tags).toContain(corpTag);
    }
    expect(errors.filter((e) => e.includes(corp.corpid))).toEqual([]);
  });
});

describe('conflict policy: WeCom owns', () => {
  it('refuses to publish a rule writing a tag of a WeCom-owned group, naming the node; Segflow owns lets it', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 4 });
    const q = fakeQueue();
    await startSync(q.env, corp.connectionId, { userId: 9001, ip: null }, Date.now());
    await drainQueue(q);
    // a group the pull brought in: in WeCom, and WeCom's by default
    const pulled = (await db
      .prepare(
        `SELECT t.id AS tag_id, g.id AS group_id, g.name AS group_name FROM wecom_tag_map m JOIN tags t ON t.id = m.segflow_id
         JOIN tag_groups g ON g.id = t.group_id WHERE m.connection_id = ? AND m.kind = 'tag' LIMIT 1`,
      )
      .bind(corp.connectionId)
      .first<{ tag_id: number; group_id: number; group_name: string }>())!;
    expect(await db.prepare('SELECT wecom_policy FROM tag_groups WHERE id = ?').bind(pulled.group_id).first('wecom_policy')).toBe('wecom');

    const refused = await publishAddTag(`读不写${seq}`, pulled.tag_id, 409);
    expect(refused.error.message).toContain(pulled.group_name);
    expect(refused.error.details).toEqual([{ path: 'graph.nodes.add', message: expect.stringContaining('owned by WeCom') }]);

    await db.prepare(`UPDATE tag_groups SET wecom_policy = 'segflow' WHERE id = ?`).bind(pulled.group_id).run();
    await publishAddTag(`改为自管${seq}`, pulled.tag_id, 200);
  });
});
