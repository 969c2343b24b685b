/**
 * The WeCom push without waiting for the cron (worker/src/wecom/push/hint.ts), renames and
 * retirements of mirrored corp tags (push/tag-ops.ts) and the list of reverted WeCom-side edits
 * (push/overrides.ts), against the local WeCom simulator (tools/wecom-sim at http://wecom.test) on
 * the real D1. Where the test says "real queue", the app sends to `segflow-wecom-sync` and
 * workerd's own consumer runs it: no cron tick, no hand-driven delivery.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, eventually, seedSmallWorld } from './fixtures';
import { tagChangeStatements } from '../src/tagging/tag-writer';
import { applyHint } from '../src/wecom/sync/hints';
import { consumeDrainHint, HINT_DELAY_SECONDS, hintPushes } from '../src/wecom/push/hint';
import type { WecomOverridesPage, WecomPushStatus, WecomRetireImpact } from '@shared/api/wecom';
import {
  drainQueue,
  fakeQueue,
  library,
  mapRows,
  markTagCalls,
  publishAddTag,
  pulledCorpWithSyncedGroup,
  seq,
  sim,
  simRelations,
  syncedGroup,
} from './wecom-kit';
import { mirrorConnection } from '../src/wecom/push/mirror';
import { retryFailedPushes } from '../src/wecom/push/status';
import { DEPT_ADMIN, STAFF } from './wecom-sync-kit';

const db = env.DB;
beforeAll(async () => {
  await seedSmallWorld(); // the department of the department admin and staff below
});
const send = (path: string, method: string, body: unknown) =>
  api(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const calls = async (corpid: string, api: string) =>
  (await sim<Record<string, number>>(`/corps/${corpid}/calls`, undefined, 'GET'))[api] ?? 0;
const hintState = (connectionId: number) =>
  db.prepare('SELECT hint_due_at, ledger_cursor FROM wecom_push_state WHERE connection_id = ?').bind(connectionId).first<{
    hint_due_at: number | null;
    ledger_cursor: number;
  }>();

describe('a push right after a tag write (no cron tick)', () => {
  it('publishing a rule on a synced group puts the corp tag on every customer in WeCom through the real queue', async () => {
    const corp = await pulledCorpWithSyncedGroup({ hints: true });
    const tagId = corp.ids.get('甲')!;
    const corpTag = await corp.wecomId(tagId);
    const relations = await simRelations(corp.corpid);
    expect([...relations.values()].some((tags) => tags.includes(corpTag))).toBe(false);
    const before = await markTagCalls(corp.corpid);

    await publishAddTag(`即推规则${seq}`, tagId);
    // the publish answered; the hint, its drain and the pushes run on the real queue
    await eventually(
      'every relation in WeCom carries the corp tag',
      async () => [...(await simRelations(corp.corpid)).values()].every((tags) => tags.includes(corpTag)),
      30_000,
    );
    expect(await markTagCalls(corp.corpid)).toBe(before + relations.size);
    // the hint was consumed: nothing pending, the cursor past the publish's ledger rows
    await eventually('the hint slot is free', async () => (await hintState(corp.connectionId))?.hint_due_at === null);
    const last = await db.prepare('SELECT max(id) AS id FROM tag_ledger').first<number>('id');
    expect((await hintState(corp.connectionId))!.ledger_cursor).toBe(last);
  });

  it('coalesces a burst: one hint per connection while one is pending, a new one once it was consumed', async () => {
    const corp = await pulledCorpWithSyncedGroup({ hints: true });
    const tagId = corp.ids.get('乙')!;
    const contacts = (
      await db
        .prepare(
          `SELECT c.id FROM contacts c WHERE c.external_id IN (SELECT external_userid FROM wecom_relations WHERE connection_id = ? AND deleted_at IS NULL) ORDER BY c.id`,
        )
        .bind(corp.connectionId)
        .all<{ id: number }>()
    ).results.map((r) => r.id);
    const q = fakeQueue();
    const write = (contactId: number, op: 'add' | 'remove') =>
      db.batch(tagChangeStatements(db, [{ contactId, tagId, op }], { source: 'manual', actorUserId: 9001, at: Date.now() }));

    // ten writes, each followed by a hint as a request would: one message
    let hinted = 0;
    for (const id of contacts.slice(0, 10)) {
      await write(id, 'add');
      hinted += (await hintPushes(q.env)).filter((c) => c === corp.connectionId).length;
    }
    expect(hinted).toBe(1);
    const drains = q.sent.filter((m) => m.body.type === 'drain');
    expect(drains).toEqual([{ body: { v: 1, type: 'drain', connectionId: corp.connectionId }, attempts: 1 }]);
    const due = (await hintState(corp.connectionId))!.hint_due_at!;
    expect(due).toBeGreaterThan(Date.now());
    expect(due).toBeLessThanOrEqual(Date.now() + HINT_DELAY_SECONDS * 1000);

    // its drain frees the slot first and queues every written contact once
    q.sent.length = 0;
    await consumeDrainHint(q.env, corp.connectionId);
    expect((await hintState(corp.connectionId))!.hint_due_at).toBeNull();
    expect(q.sent.map((m) => m.body.type === 'push' && m.body.contactId).sort()).toEqual(
      contacts.slice(0, Math.min(10, contacts.length)).sort(),
    );
    q.sent.length = 0;

    // nothing new: no hint; a new write: a new hint
    expect(await hintPushes(q.env)).not.toContain(corp.connectionId);
    await write(contacts[0]!, 'remove');
    expect(await hintPushes(q.env)).toContain(corp.connectionId);
  });

  it('never hints a change that came from WeCom: no loop (the callback path through the real queue too)', async () => {
    const corp = await pulledCorpWithSyncedGroup({ hints: true });
    const tagId = corp.ids.get('乙')!;
    const relations = await simRelations(corp.corpid);
    const ext = [...relations.keys()][0]!.split('|')[1]!;
    const contactId = (await db.prepare('SELECT id FROM contacts WHERE external_id = ?').bind(ext).first<number>('id'))!;
    const before = await markTagCalls(corp.corpid);
    const q = fakeQueue();
    // a write of the pull (source wecom) on a Segflow-owned tag
    await db.batch(tagChangeStatements(db, [{ contactId, tagId, op: 'add' }], { source: 'wecom', at: Date.now() }));
    expect(await hintPushes(q.env)).not.toContain(corp.connectionId);
    expect(q.sent).toHaveLength(0);
    expect((await hintState(corp.connectionId))!.hint_due_at).toBeNull();

    // a WeCom-owned group's tag edited in WeCom and pulled: applied here, never pushed back
    const owned = await syncedGroup(`企微管${seq}`, [['丙']], 'wecom');
    expect(await mirrorConnection(env, corp.connectionId)).toMatchObject({ status: 'ok', createdTags: 1 });
    const wecomTag = (await mapRows(corp.connectionId)).find((m) => m.kind === 'tag' && m.segflow_id === owned.ids.get('丙'))!.wecom_id;
    const [userid] = [...relations.keys()][0]!.split('|') as [string];
    await sim(`/corps/${corp.corpid}/changes/mark-tag`, { userid, external_userid: ext, add_tag: [wecomTag] });
    await applyHint(q.env, corp.connectionId, {
      kind: 'contact',
      id: `loop-${seq}`,
      userId: userid,
      externalUserId: ext,
      changeType: 'edit_external_contact',
    });
    expect(
      await db
        .prepare('SELECT source FROM tag_ledger WHERE contact_id = ? AND tag_id = ?')
        .bind(contactId, owned.ids.get('丙'))
        .first('source'),
    ).toBe('wecom');
    expect(await hintPushes(q.env)).not.toContain(corp.connectionId);
    await drainQueue(q);
    expect(await markTagCalls(corp.corpid)).toBe(before);
  });
});

describe('renaming and retiring mirrored tags (edit_corp_tag / del_corp_tag through the real queue)', () => {
  it('renames a mirrored tag, the tags under it and the group in WeCom', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    await db
      .prepare(`INSERT INTO tags (group_id, parent_id, level, name) VALUES (?, ?, 2, '复购')`)
      .bind(corp.groupId, corp.ids.get('甲'))
      .run();
    expect(await mirrorConnection(env, corp.connectionId)).toMatchObject({ createdTags: 1 });
    const id = corp.ids.get('甲')!;
    const r = await send(`/api/taxonomy/tags/${id}`, 'PATCH', { name: `甲新${seq}` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const g = await send(`/api/taxonomy/groups/${corp.groupId}`, 'PATCH', { name: `推送改名${seq}` });
    expect(g.status, JSON.stringify(g.body)).toBe(200);

    await eventually(
      'WeCom shows the new names',
      async () => {
        const lib = await library(corp.corpid);
        return (
          lib.tags.some((t) => t.name === `甲新${seq}`) &&
          lib.tags.some((t) => t.name === `甲新${seq}/复购`) &&
          lib.groups.some((x) => x.group_name === `推送改名${seq}`)
        );
      },
      30_000,
    );
    const names = (await mapRows(corp.connectionId)).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining([`甲新${seq}`, `甲新${seq}/复购`, `推送改名${seq}`]));
    const status = await eventually('the ops are done', async () => {
      const s = (await api<WecomPushStatus>(`/api/wecom/connections/${corp.connectionId}/push`)).body;
      return s.tagOps.counts.done === 3 && s.tagOps.counts.queued === 0 ? s : null;
    });
    expect(status.tagOps.items.every((o) => o.op === 'rename' && o.status === 'done')).toBe(true);
    expect(await calls(corp.corpid, 'externalcontact/edit_corp_tag')).toBe(3);
  });

  it('a retry of failed corp tag ops that the queue refuses is a 503, and the ops stay failed (never queued without a message)', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const groupWecomId = (await mapRows(corp.connectionId)).find((m) => m.kind === 'group' && m.segflow_id === corp.groupId)!.wecom_id;
    await sim(`/corps/${corp.corpid}/changes/create-tag`, { group_id: groupWecomId, tag: [{ name: '戊' }] });
    expect((await send(`/api/taxonomy/tags/${corp.ids.get('甲')}`, 'PATCH', { name: '戊' })).status).toBe(200);
    await eventually('the rename failed in WeCom', async () => {
      const s = (await api<WecomPushStatus>(`/api/wecom/connections/${corp.connectionId}/push`)).body;
      return s.tagOps.counts.failed === 1;
    });
    const refusing = {
      ...env,
      WECOM_SYNC: {
        send: () => Promise.reject(new Error('queue down')),
        sendBatch: () => Promise.reject(new Error('queue down')),
      } as unknown as Queue,
    };
    await expect(retryFailedPushes(refusing, corp.connectionId, { userId: 9001, ip: null }, Date.now())).rejects.toMatchObject({
      status: 503,
    });
    const ops = await db
      .prepare('SELECT status, errmsg FROM wecom_tag_ops WHERE connection_id = ? AND segflow_id = ?')
      .bind(corp.connectionId, corp.ids.get('甲'))
      .all<{ status: string; errmsg: string }>();
    expect(ops.results).toEqual([{ status: 'failed', errmsg: expect.stringContaining('queue down') }]);
  });

  it('keeps WeCom’s refusal: a name the WeCom group already has (40071) and a tag the app did not create (301002), in words', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const groupWecomId = (await mapRows(corp.connectionId)).find((m) => m.kind === 'group' && m.segflow_id === corp.groupId)!.wecom_id;
    // an admin adds 「丁」 to the group in WeCom's console
    await sim(`/corps/${corp.corpid}/changes/create-tag`, { group_id: groupWecomId, tag: [{ name: '丁' }] });
    const r = await send(`/api/taxonomy/tags/${corp.ids.get('甲')}`, 'PATCH', { name: '丁' });
    expect(r.status, JSON.stringify(r.body)).toBe(200); // Segflow's rename stands
    const failed = await eventually('the rename failed in WeCom', async () => {
      const s = (await api<WecomPushStatus>(`/api/wecom/connections/${corp.connectionId}/push`)).body;
      return s.tagOps.items.find((o) => o.status === 'failed') ?? null;
    });
    expect(failed).toMatchObject({ kind: 'tag', op: 'rename', name: '丁', errcode: 40071, segflowName: '丁' });
    expect(failed.words!['zh-CN']).toMatch(/[\u4e00-\u9fff]/);
    expect((await library(corp.corpid)).tags.find((t) => t.id === failed.wecomId)?.name).toBe('甲');

    // the admin renames their 「丁」 in the console; "retry failed" then asks for the rename again, and it goes through
    const consoleDing = (await library(corp.corpid)).tags.find((t) => t.name === '丁' && t.id !== failed.wecomId)!;
    await sim(`/corps/${corp.corpid}/changes/edit-tag`, { id: consoleDing.id, name: `丁旧${seq}` });
    const retried = await send(`/api/wecom/connections/${corp.connectionId}/push/retry`, 'POST', {});
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body).toMatchObject({ requeued: 0, tagOps: 1 });
    await eventually('WeCom shows the rename', async () =>
      (await library(corp.corpid)).tags.some((t) => t.id === failed.wecomId && t.name === '丁'),
    );
    await eventually('the op is done', async () => {
      const s = (await api<WecomPushStatus>(`/api/wecom/connections/${corp.connectionId}/push`)).body;
      return s.tagOps.counts.failed === 0 && s.tagOps.items.some((o) => o.wecomId === failed.wecomId && o.status === 'done');
    });

    // a tag adopted from the console (origin wecom): never edited, failed as 301002 without a call
    const edits = await calls(corp.corpid, 'externalcontact/edit_corp_tag');
    await db
      .prepare(`UPDATE wecom_tag_map SET origin = 'wecom' WHERE connection_id = ? AND kind = 'tag' AND segflow_id = ?`)
      .bind(corp.connectionId, corp.ids.get('乙'))
      .run();
    expect((await send(`/api/taxonomy/tags/${corp.ids.get('乙')}`, 'PATCH', { name: `乙新${seq}` })).status).toBe(200);
    const notOurs = await eventually('the adopted tag is refused', async () => {
      const s = (await api<WecomPushStatus>(`/api/wecom/connections/${corp.connectionId}/push`)).body;
      return s.tagOps.items.find((o) => o.segflowId === corp.ids.get('乙') && o.status === 'failed') ?? null;
    });
    expect(notOurs.errcode).toBe(301002);
    expect(await calls(corp.corpid, 'externalcontact/edit_corp_tag')).toBe(edits);
  });

  it('refuses a new tag, a rename or a move that would make a synced tag’s WeCom name (its path) longer than 30 characters, changing nothing', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const jia = corp.ids.get('甲')!;
    const child = (await db
      .prepare(`INSERT INTO tags (group_id, parent_id, level, name) VALUES (?, ?, 2, '季度复购客户') RETURNING id`)
      .bind(corp.groupId, jia)
      .first<{ id: number }>())!.id;
    const before = await db.prepare('SELECT id, name, parent_id FROM tags WHERE group_id = ? ORDER BY id').bind(corp.groupId).all();
    const edits = await calls(corp.corpid, 'externalcontact/edit_corp_tag');
    // 「甲」 alone fits in 30 characters (24), but its child's WeCom name 「<24>/季度复购客户」 has 31
    const long = '高价值客户'.repeat(4) + '近期活跃';
    const r = await send(`/api/taxonomy/tags/${jia}`, 'PATCH', { name: long });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body).toMatchObject({ error: { code: 'wecom_name_too_long', details: [{ path: 'name' }] } });
    expect(JSON.stringify(r.body)).toContain(`${long}/季度复购客户`);
    // a move under a long-named tag: refused on parentId
    const longParent = (await db
      .prepare(`INSERT INTO tags (group_id, parent_id, level, name) VALUES (?, NULL, 1, ?) RETURNING id`)
      .bind(corp.groupId, '很长的一级标签名称'.repeat(3))
      .first<{ id: number }>())!.id;
    const m = await send(`/api/taxonomy/tags/${child}`, 'PATCH', { parentId: longParent });
    expect(m.status, JSON.stringify(m.body)).toBe(409);
    expect(m.body).toMatchObject({ error: { code: 'wecom_name_too_long', details: [{ path: 'parentId' }] } });
    // and a new tag there
    const n = await send('/api/taxonomy/tags', 'POST', { groupId: corp.groupId, parentId: longParent, name: '四个字的' });
    expect(n.status, JSON.stringify(n.body)).toBe(409);
    expect(n.body).toMatchObject({ error: { code: 'wecom_name_too_long' } });
    // nothing changed, nothing was sent to WeCom; a name that fits still goes through
    await db.prepare('DELETE FROM tags WHERE id = ?').bind(longParent).run();
    expect(
      (await db.prepare('SELECT id, name, parent_id FROM tags WHERE group_id = ? ORDER BY id').bind(corp.groupId).all()).results,
    ).toEqual(before.results);
    expect(await calls(corp.corpid, 'externalcontact/edit_corp_tag')).toBe(edits);
    expect((await send(`/api/taxonomy/tags/${jia}`, 'PATCH', { name: `甲短${seq}` })).status).toBe(200);
  });

  it('waits out a 45009 storm on edit_corp_tag without failing the rename', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const id = corp.ids.get('乙')!;
    const corpTag = await corp.wecomId(id);
    // more refusals than one call's own retries (1 + 3): the message goes back on the queue with WeCom's delay
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/edit_corp_tag', errcode: 45009, count: 6 });
    expect((await send(`/api/taxonomy/tags/${id}`, 'PATCH', { name: `乙限频${seq}` })).status).toBe(200);
    await eventually(
      'the rename reached WeCom',
      async () => (await library(corp.corpid)).tags.find((t) => t.id === corpTag)?.name === `乙限频${seq}`,
      30_000,
    );
    const s = (await api<WecomPushStatus>(`/api/wecom/connections/${corp.connectionId}/push`)).body;
    expect(s.tagOps.items.find((o) => o.wecomId === corpTag)).toMatchObject({ status: 'done', errcode: null });
    expect(await calls(corp.corpid, 'externalcontact/edit_corp_tag')).toBe(7);
  });

  it('retiring a mirrored tag deletes it in WeCom (del_corp_tag), which removes it from the customers the impact named', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('乙')!;
    const corpTag = await corp.wecomId(tagId);
    // two relations carry it in WeCom (marked in the console, as WeCom holds it)
    const keys = [...(await simRelations(corp.corpid)).keys()].slice(0, 2);
    for (const k of keys) {
      const [userid, ext] = k.split('|');
      await sim(`/corps/${corp.corpid}/changes/mark-tag`, { userid, external_userid: ext, add_tag: [corpTag] });
      await db
        .prepare(
          `UPDATE wecom_relations SET tag_ids = json_insert(tag_ids, '$[#]', ?) WHERE connection_id = ? AND userid = ? AND external_userid = ?`,
        )
        .bind(corpTag, corp.connectionId, userid, ext)
        .run();
    }
    const customers = new Set(keys.map((k) => k.split('|')[1])).size;
    const impact = await apiAs<WecomRetireImpact>(DEPT_ADMIN, `/api/wecom/tags/${tagId}/retire-impact`);
    expect(impact.status).toBe(200);
    expect(impact.body.corps).toEqual([
      { connectionId: corp.connectionId, corpId: corp.corpid, wecomId: corpTag, deletable: true, customers, relations: keys.length },
    ]);
    expect((await apiAs(STAFF, `/api/wecom/tags/${tagId}/retire-impact`)).status).toBe(403);

    const r = await send(`/api/taxonomy/tags/${tagId}/retire`, 'POST', {});
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await eventually('the corp tag is gone in WeCom', async () => !(await library(corp.corpid)).tags.some((t) => t.id === corpTag), 30_000);
    for (const tags of (await simRelations(corp.corpid)).values()) expect(tags).not.toContain(corpTag);
    const row = await db
      .prepare(`SELECT deleted_at FROM wecom_tag_map WHERE connection_id = ? AND kind = 'tag' AND wecom_id = ?`)
      .bind(corp.connectionId, corpTag)
      .first<number | null>('deleted_at');
    expect(row).toBeGreaterThan(0);
    const s = (await api<WecomPushStatus>(`/api/wecom/connections/${corp.connectionId}/push`)).body;
    expect(s.tagOps.items.find((o) => o.wecomId === corpTag)).toMatchObject({ op: 'delete', status: 'done' });
    expect((await api<WecomRetireImpact>(`/api/wecom/tags/${tagId}/retire-impact`)).body.corps).toEqual([]);
  });
});

describe('merging a mirrored tag into another', () => {
  it('deletes the merged corp tag in WeCom (the merge retires it), keeping the one merged into', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const [from, into] = [corp.ids.get('乙')!, corp.ids.get('甲')!];
    const [fromTag, intoTag] = [await corp.wecomId(from), await corp.wecomId(into)];
    const r = await send(`/api/taxonomy/tags/${from}/merge`, 'POST', { intoTagId: into });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await eventually(
      'the merged corp tag is gone in WeCom',
      async () => !(await library(corp.corpid)).tags.some((t) => t.id === fromTag),
      30_000,
    );
    expect((await library(corp.corpid)).tags.some((t) => t.id === intoTag)).toBe(true);
    expect(await calls(corp.corpid, 'externalcontact/del_corp_tag')).toBe(1);
  });
});

describe('the list of reverted WeCom-side edits ("Segflow owns")', () => {
  it('lists each edit with its customer, follow user, tag and direction, pending until the push reverts it', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('乙')!;
    const corpTag = await corp.wecomId(tagId);
    const [userid, ext] = [...(await simRelations(corp.corpid)).keys()][0]!.split('|') as [string, string];
    await sim(`/corps/${corp.corpid}/changes/mark-tag`, { userid, external_userid: ext, add_tag: [corpTag] });
    await applyHint(corp.q.env, corp.connectionId, {
      kind: 'contact',
      id: `ovr-${seq}`,
      userId: userid,
      externalUserId: ext,
      changeType: 'edit_external_contact',
    });
    const contact = (await db
      .prepare('SELECT id, name FROM contacts WHERE external_id = ?')
      .bind(ext)
      .first<{ id: number; name: string }>())!;

    const page = async (q = '') => (await api<WecomOverridesPage>(`/api/wecom/connections/${corp.connectionId}/overrides${q}`)).body;
    const pending = await page();
    expect(pending).toMatchObject({ total: 1, page: 1, pageSize: 20 });
    expect(pending.items[0]).toMatchObject({
      contactId: contact.id,
      contactName: contact.name,
      userid,
      tagId,
      tagName: '乙',
      op: 'added',
      revertedAt: null,
    });

    await drainQueue(corp.q); // the revert push
    const after = await page();
    expect(after.items[0]!.revertedAt).toBeGreaterThanOrEqual(after.items[0]!.at);
    expect(await page('?page=2&pageSize=1')).toMatchObject({ total: 1, items: [] });
    const bad = await api(`/api/wecom/connections/${corp.connectionId}/overrides?pageSize=1000`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('pageSize');
    expect((await api(`/api/wecom/connections/99999999/overrides`)).status).toBe(404);
    expect((await apiAs(DEPT_ADMIN, `/api/wecom/connections/${corp.connectionId}/overrides`)).status).toBe(403);
  });
});
