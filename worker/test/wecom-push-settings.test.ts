/**
 * The push as a super admin drives it (`/api/wecom/…`, worker/src/wecom/push/settings.ts and
 * status.ts): a tag group's WeCom settings with WeCom's limits checked when they are set, the push
 * status the sync screen shows, "push now" and "retry failed pushes"; against the local WeCom
 * simulator on the real D1 with the real migrations.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { WecomGroupSettings, WecomPushStatus } from '@shared/api/wecom';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { api, eventually } from './fixtures';
import {
  drainQueue,
  fakeQueue,
  markTagCalls,
  nextMsgId,
  publishAddTag,
  pulledCorpWithSyncedGroup,
  seedCorp,
  seq,
  sim,
  simRelations,
} from './wecom-kit';
import { consumeWecomSync, consumeWecomSyncDead } from '../src/wecom/sync/consume';
import type { WecomSyncMessage } from '../src/wecom/sync/message';
import { startSync } from '../src/wecom/sync/runs';
import { pushConnection } from '../src/wecom/push/tick';
import { retryFailedPushes } from '../src/wecom/push/status';
import { ApiError } from '../src/errors';

const db = env.DB;
const send = (path: string, method: string, body?: unknown) =>
  api(path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
const putSettings = (groupId: number, body: unknown) => send(`/api/wecom/tag-groups/${groupId}`, 'PUT', body);
const pushStatus = async (connectionId: number) => {
  const r = await api<WecomPushStatus>(`/api/wecom/connections/${connectionId}/push`);
  expect(r.status).toBe(200);
  return r.body;
};

async function plainGroup(name: string, tags: string[][] = [['甲']]): Promise<number> {
  const g = (await db.prepare('INSERT INTO tag_groups (name) VALUES (?) RETURNING id').bind(name).first<{ id: number }>())!;
  const ids = new Map<string, number>();
  for (const path of tags) {
    const parent = path.length > 1 ? ids.get(path.slice(0, -1).join('/'))! : null;
    const t = await db
      .prepare('INSERT INTO tags (group_id, parent_id, level, name) VALUES (?, ?, ?, ?) RETURNING id')
      .bind(g.id, parent, path.length, path.at(-1))
      .first<{ id: number }>();
    ids.set(path.join('/'), t!.id);
  }
  return g.id;
}

describe('a tag group’s WeCom settings (PUT /api/wecom/tag-groups/:id)', () => {
  it('sets sync and policy, audited once, and the status lists the group with its mapping after a push', async () => {
    const corp = await seedCorp({ followUsers: 2, contacts: 4 });
    const groupId = await plainGroup(`设置${seq}`, [['高价值'], ['高价值', '复购']]);
    const r = await putSettings(groupId, { sync: true, policy: 'segflow' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body as WecomGroupSettings).toMatchObject({ id: groupId, sync: true, policy: 'segflow', inWecom: true, tags: 2 });
    expect(await db.prepare('SELECT wecom_sync, wecom_policy FROM tag_groups WHERE id = ?').bind(groupId).first()).toEqual({
      wecom_sync: 1,
      wecom_policy: 'segflow',
    });
    // the same settings again change nothing and write no second audit row
    expect((await putSettings(groupId, { sync: true, policy: 'segflow' })).status).toBe(200);
    const audit = await db
      .prepare(`SELECT params FROM audit_log WHERE action = 'tag_group.wecom' AND object_id = ?`)
      .bind(String(groupId))
      .all<{ params: string }>();
    expect(audit.results.map((a) => JSON.parse(a.params))).toEqual([{ variant: 'on_segflow', name: `设置${seq}` }]);

    const before = (await pushStatus(corp.connectionId)).groups.find((g) => g.id === groupId);
    expect(before).toMatchObject({ sync: true, inWecom: true, pulled: false, tags: 2, mappedTags: 0, tooLong: [] });
    const now = await send(`/api/wecom/connections/${corp.connectionId}/push`, 'POST', {});
    expect(now.status, JSON.stringify(now.body)).toBe(200);
    expect(now.body.createdTags).toBe(2);
    const after = await pushStatus(corp.connectionId);
    expect(after.groups.find((g) => g.id === groupId)).toMatchObject({ mappedTags: 2 });
    expect(after.createdTags).toBe(2);
    const lib = await sim<{ tags: { name: string; deleted?: boolean }[] }>(`/corps/${corp.corpid}/tags`);
    expect(lib.tags.filter((t) => !t.deleted).map((t) => t.name)).toEqual(expect.arrayContaining(['高价值', '高价值/复购']));
  });

  it('refuses names WeCom would refuse (over 30 characters), naming them, and changes nothing', async () => {
    const longGroup = await plainGroup(`${'长'.repeat(30)}${seq}`);
    const r1 = await putSettings(longGroup, { sync: true, policy: 'segflow' });
    expect(r1.status).toBe(409);
    expect(r1.body.error.message).toContain('30');
    const deep = await plainGroup(`路径${seq}`, [['一'.repeat(15)], ['一'.repeat(15), '二'.repeat(15)]]);
    const r2 = await putSettings(deep, { sync: true, policy: 'segflow' });
    expect(r2.status).toBe(409);
    expect(r2.body.error.details).toEqual([{ path: 'tags', message: expect.stringContaining(`${'一'.repeat(15)}/${'二'.repeat(15)}`) }]);
    const rows = await db
      .prepare('SELECT wecom_sync FROM tag_groups WHERE id IN (?, ?)')
      .bind(longGroup, deep)
      .all<{ wecom_sync: number }>();
    expect(rows.results.map((g) => g.wecom_sync)).toEqual([0, 0]);
  });

  it('refuses bad bodies and unknown groups with a 4xx naming the problem', async () => {
    const groupId = await plainGroup(`坏请求${seq}`);
    const unknown = await putSettings(groupId, { sync: true, policy: 'segflow', extra: 1 });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('extra');
    const wrong = await putSettings(groupId, { sync: 'yes', policy: 'both' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['policy', 'sync']);
    expect((await putSettings(99_999_999, { sync: true, policy: 'segflow' })).status).toBe(404);
  });

  it('refuses WeCom owns while a published rule writes the group, naming the rule', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('甲')!;
    await publishAddTag(`写组规则${seq}`, tagId);
    const r = await putSettings(corp.groupId, { sync: true, policy: 'wecom' });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain(`写组规则${seq}`);
    expect(await db.prepare('SELECT wecom_policy FROM tag_groups WHERE id = ?').bind(corp.groupId).first('wecom_policy')).toBe('segflow');
  });

  it('refuses to sync a group that would pass WeCom’s 10,000 corp tags of a connected company', async () => {
    const corp = await seedCorp();
    const { tags } = await sim<{ tags: unknown[] }>(`/corps/${corp.corpid}/tags`);
    await sim(`/corps/${corp.corpid}/changes/create-tag`, {
      group_name: '填充',
      tag: Array.from({ length: 9_999 - tags.length }, (_, i) => ({ name: `填充${i}` })),
    });
    // what the mirror learns of the library on its next run (only this test's group is synced)
    await db.prepare('UPDATE tag_groups SET wecom_sync = 0').run();
    const small = await plainGroup(`一个${seq}`);
    expect((await putSettings(small, { sync: true, policy: 'segflow' })).status).toBe(200);
    expect(await pushConnection(env, corp.connectionId, Date.now())).toMatchObject({ status: 'ok', createdTags: 1 });
    // 10,000 now: one more is over
    const more = await plainGroup(`再一个${seq}`);
    const r = await putSettings(more, { sync: true, policy: 'segflow' });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain('10000');
    expect(r.body.error.message).toContain(corp.corpid);
    // the connection is removed from the company: the flag goes through
    await db.prepare('DELETE FROM wecom_push_state WHERE connection_id = ?').bind(corp.connectionId).run();
    await db.prepare('DELETE FROM wecom_tag_map WHERE connection_id = ?').bind(corp.connectionId).run();
    expect((await putSettings(more, { sync: true, policy: 'segflow' })).status).toBe(200);
  });
});

describe('WeCom-owned tags and the corp tag limit on the tag routes', () => {
  it('refuses a manual edit of a tag WeCom owns (409 naming the policy), and allows it once the group is Segflow-owned', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    await db.prepare(`UPDATE tag_groups SET wecom_policy = 'wecom' WHERE id = ?`).bind(corp.groupId).run();
    const contactId = (await db
      .prepare(`SELECT c.id FROM contacts c JOIN wecom_relations r ON r.external_userid = c.external_id WHERE r.connection_id = ? LIMIT 1`)
      .bind(corp.connectionId)
      .first<number>('id'))!;
    const tagId = corp.ids.get('甲')!;
    const held = () =>
      db.prepare('SELECT count(*) AS n FROM contact_tags WHERE contact_id = ? AND tag_id = ?').bind(contactId, tagId).first('n');
    const edit = (body: unknown) => send(`/api/contacts/${contactId}/tags`, 'POST', body);
    const refused = await edit({ add: [tagId] });
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.error.message).toContain('WeCom owns');
    expect(refused.body.error.details).toEqual([{ path: 'add.0', message: expect.stringContaining('甲') }]);
    expect(await held()).toBe(0);
    // a group the pull mapped from WeCom (not synced) is WeCom's too: removing one of its tags is refused
    const pulled = await db
      .prepare(
        `SELECT ct.tag_id FROM contact_tags ct JOIN wecom_tag_map m ON m.kind = 'tag' AND m.segflow_id = ct.tag_id AND m.connection_id = ?
         JOIN tags t ON t.id = ct.tag_id JOIN tag_groups g ON g.id = t.group_id WHERE ct.contact_id = ? AND g.wecom_sync = 0 LIMIT 1`,
      )
      .bind(corp.connectionId, contactId)
      .first<number>('tag_id');
    if (pulled != null) {
      const r = await edit({ remove: [pulled] });
      expect(r.status).toBe(409);
      expect(r.body.error.details).toEqual([{ path: 'remove.0', message: expect.stringContaining('owned by WeCom') }]);
    }
    // Segflow owns: the same edit goes through
    expect((await putSettings(corp.groupId, { sync: true, policy: 'segflow' })).status).toBe(200);
    const ok = await edit({ add: [tagId] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(await held()).toBe(1);
  });

  it('refuses a new tag in a synced group once a connected company holds 10,000 corp tags; a group not synced is not limited', async () => {
    const corp = await seedCorp();
    const { tags } = await sim<{ tags: unknown[] }>(`/corps/${corp.corpid}/tags`);
    await sim(`/corps/${corp.corpid}/changes/create-tag`, {
      group_name: '填充',
      tag: Array.from({ length: 9_999 - tags.length }, (_, i) => ({ name: `填充${i}` })),
    });
    await db.prepare('UPDATE tag_groups SET wecom_sync = 0').run();
    const synced = await plainGroup(`已同步${seq}`);
    expect((await putSettings(synced, { sync: true, policy: 'segflow' })).status).toBe(200);
    expect(await pushConnection(env, corp.connectionId, Date.now())).toMatchObject({ status: 'ok', createdTags: 1 });
    const count = () => db.prepare('SELECT count(*) AS n FROM tags WHERE group_id = ?').bind(synced).first('n');
    const before = await count();
    // 10,000 now: one more tag in the synced group would be 10,001
    const r = await send('/api/taxonomy/tags', 'POST', { groupId: synced, name: '多一个' });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.message).toContain('10000');
    expect(r.body.error.message).toContain(corp.corpid);
    expect(r.body.error.details).toEqual([{ path: 'groupId', message: `${corp.corpid}: 10000 + 1 > 10000` }]);
    expect(await count()).toBe(before);
    // the same in a group that is not synced: nothing reaches WeCom
    const plain = await plainGroup(`未同步${seq}`);
    expect((await send('/api/taxonomy/tags', 'POST', { groupId: plain, name: '多一个' })).status).toBe(201);
    // the full company leaves the tests that follow
    await db.prepare('DELETE FROM wecom_push_state WHERE connection_id = ?').bind(corp.connectionId).run();
    await db.prepare('DELETE FROM wecom_tag_map WHERE connection_id = ?').bind(corp.connectionId).run();
    const again = await send('/api/taxonomy/tags', 'POST', { groupId: synced, name: '腾出位置后' });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    await db.prepare('UPDATE tag_groups SET wecom_sync = 0 WHERE id = ?').bind(synced).run();
  });
});

describe('the pull does not adopt a group a published rule writes', () => {
  it('creates "name（企业微信）" instead, so the rule keeps its group', async () => {
    const name = `同名${seq}`;
    const groupId = await plainGroup(name);
    const tagId = (await db.prepare('SELECT id FROM tags WHERE group_id = ?').bind(groupId).first<number>('id'))!;
    await publishAddTag(`同名规则${seq}`, tagId);
    const corp = await seedCorp({ followUsers: 1, contacts: 2 });
    await sim(`/corps/${corp.corpid}/changes/create-tag`, { group_name: name, tag: [{ name: '乙' }] });
    const q = fakeQueue();
    await startSync(q.env, corp.connectionId, { userId: 9001, ip: null }, Date.now());
    await drainQueue(q);
    const mapped = await db
      .prepare(
        `SELECT g.id, g.name FROM wecom_tag_map m JOIN tag_groups g ON g.id = m.segflow_id
         WHERE m.connection_id = ? AND m.kind = 'group' AND g.name LIKE ?`,
      )
      .bind(corp.connectionId, `${name}%`)
      .all<{ id: number; name: string }>();
    expect(mapped.results).toEqual([{ id: expect.any(Number), name: `${name}（企业微信）` }]);
    expect(mapped.results[0]!.id).not.toBe(groupId);
  });
});

describe('push status, push now and retry (the sync screen)', () => {
  it('counts pushes by state, shows a failed one with WeCom’s errcode in words, and retry sends it again', async () => {
    const corp = await pulledCorpWithSyncedGroup();
    const tagId = corp.ids.get('乙')!;
    await publishAddTag(`状态规则${seq}`, tagId);
    const r = await pushConnection(corp.q.env, corp.connectionId, Date.now());
    expect(r.queued).toBeGreaterThan(1);
    // WeCom refuses the first contact's mark_tag (48002, not a limit): its delivery is retried,
    // and once the queue gives up the dead-letter consumer marks it dead
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/mark_tag', errcode: 48002, count: 1 });
    const first = corp.q.sent.shift()!;
    const batch = createMessageBatch<WecomSyncMessage>('segflow-wecom-sync', [
      { id: nextMsgId('status'), timestamp: new Date(), attempts: 5, body: first.body },
    ]);
    const ctx = createExecutionContext();
    await consumeWecomSync(batch as MessageBatch<unknown>, corp.q.env);
    expect((await getQueueResult(batch, ctx)).retryMessages).toHaveLength(1);
    await consumeWecomSyncDead(batch as MessageBatch<unknown>, corp.q.env);
    await drainQueue(corp.q);

    const status = await pushStatus(corp.connectionId);
    expect(status.pushes).toEqual({ queued: 0, sent: r.queued - 1, dead: 1 });
    expect(status.failed).toHaveLength(1);
    expect(status.failed[0]).toMatchObject({ errcode: 48002, attempts: 1 });
    expect(status.failed[0]!.words!['zh-CN']).toMatch(/[\u4e00-\u9fff]/);
    expect(status.marked).toBeGreaterThan(0);
    const corpTag = await corp.wecomId(tagId);
    const missing = [...(await simRelations(corp.corpid)).values()].filter((tags) => !tags.includes(corpTag)).length;
    expect(missing).toBeGreaterThan(0);

    // retry through the API: the route sends to the real queue, whose consumer marks the rest
    const calls = await markTagCalls(corp.corpid);
    const retried = await send(`/api/wecom/connections/${corp.connectionId}/push/retry`, 'POST', {});
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body).toEqual({ requeued: 1, tagOps: 0 });
    await eventually('the retried push is sent', async () => (await pushStatus(corp.connectionId)).pushes.sent === r.queued);
    expect((await pushStatus(corp.connectionId)).pushes).toEqual({ queued: 0, sent: r.queued, dead: 0 });
    expect(await markTagCalls(corp.corpid)).toBe(calls + missing);
    expect([...(await simRelations(corp.corpid)).values()].every((tags) => tags.includes(corpTag))).toBe(true);
    const audit = await db
      .prepare(`SELECT params FROM audit_log WHERE action = 'wecom_connection.push' AND object_id = ?`)
      .bind(String(corp.connectionId))
      .all<{ params: string }>();
    expect(audit.results.map((a) => JSON.parse(a.params))).toEqual([{ variant: 'retry', corpId: corp.corpid, count: 1 }]);
  });

  it('answers 404 for an unknown connection and 409 for "push now" without a 客户联系 secret', async () => {
    expect((await api('/api/wecom/connections/99999999/push')).status).toBe(404);
    const bare = await send('/api/wecom/connections', 'POST', { corpId: `wwbare${seq}${Date.now().toString(36)}` });
    expect(bare.status).toBe(201);
    const r = await send(`/api/wecom/connections/${bare.body.id}/push`, 'POST', {});
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain('客户联系');
  });
});

describe('push now when WeCom refuses', () => {
  it('is a 502 naming WeCom’s errcode in words, not a 500', async () => {
    // a corp the simulator does not know: gettoken answers an errcode
    const r = await send('/api/wecom/connections', 'POST', {
      corpId: `wwnowhere${Date.now().toString(36)}`,
      contactSecret: 'nowhere-contact-secret-000',
    });
    expect(r.status).toBe(201);
    await db.prepare('UPDATE tag_groups SET wecom_sync = 0').run();
    const groupId = await plainGroup(`拒绝${seq}`);
    expect((await putSettings(groupId, { sync: true, policy: 'segflow' })).status).toBe(200);
    const now = await send(`/api/wecom/connections/${r.body.id}/push`, 'POST', {});
    expect(now.status).toBe(502);
    expect(now.body.error.code).toBe('unavailable');
    expect(now.body.error.message).toMatch(/errcode \d+/);
  });
});

describe('a WeCom queue that refuses', () => {
  it('makes retry a 503 naming the queue, and the failed pushes stay failed (none left queued without a message)', async () => {
    const corp = await seedCorp({ followUsers: 1, contacts: 2 });
    const contactId = (await db.prepare('SELECT id FROM contacts ORDER BY id LIMIT 1').first<number>('id'))!;
    await db
      .prepare(
        `INSERT INTO wecom_push_log (connection_id, contact_id, status, attempts, errcode, updated_at) VALUES (?, ?, 'dead', 6, 48002, 1)`,
      )
      .bind(corp.connectionId, contactId)
      .run();
    const refusing = {
      ...env,
      WECOM_SYNC: {
        send: async () => Promise.reject(new Error('queue is full')),
        sendBatch: async () => Promise.reject(new Error('queue is full')),
      } as unknown as Queue,
    } as Env;
    const err = await retryFailedPushes(refusing, corp.connectionId, { userId: 9001, ip: null }, Date.now()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, code: 'unavailable' });
    expect((err as Error).message).toContain('WeCom queue');
    expect(
      await db
        .prepare('SELECT status FROM wecom_push_log WHERE connection_id = ? AND contact_id = ?')
        .bind(corp.connectionId, contactId)
        .first('status'),
    ).toBe('dead');
  });
});
