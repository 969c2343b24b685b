/**
 * The push to WeCom (worker/src/wecom/push/, docs/wip-wecom-push.md) against the local WeCom
 * simulator (tools/wecom-sim at http://wecom.test), on the real D1 with the real migrations. Each
 * test seeds its own corp (ids `wwpush…`) and its own tag groups.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api } from './fixtures';
import { mirrorConnection } from '../src/wecom/push/mirror';
import { tagPath, wecomTagName } from '../src/wecom/push/mapping';
import { WecomClient } from '../src/wecom/client';
import { libraryStatements, type WecomTagGroupIn } from '../src/wecom/sync/library';

const db = env.DB;

async function sim<T = any>(path: string, body?: unknown, method = 'POST'): Promise<T> {
  const res = await fetch(`http://wecom.test/__sim${path}`, body === undefined ? undefined : { method, body: JSON.stringify(body) });
  expect(res.status, `sim ${path}`).toBe(200);
  return res.json() as Promise<T>;
}

let seq = 0;
/** A corp of its own in the simulator, connected here. */
async function seedCorp(): Promise<{ corpid: string; connectionId: number }> {
  const corpid = `wwpush${Date.now().toString(36)}${++seq}`;
  await sim('/seed', { corpid, seed: corpid, followUsers: 2, contacts: 6, chats: 0, contactSecret: `${corpid}-contact-secret` });
  const res = await api('/api/wecom/connections', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ corpId: corpid, contactSecret: `${corpid}-contact-secret` }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { corpid, connectionId: res.body.id };
}

/** THE Segflow group marked "sync to WeCom" (others made by earlier tests are unmarked), with tags on up to three levels; answers the tag ids by path. */
async function syncedGroup(name: string, paths: string[][], policy: 'segflow' | 'wecom' = 'segflow') {
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

async function library(corpid: string) {
  const lib = await sim<{ groups: any[]; tags: any[] }>(`/corps/${corpid}/tags`);
  return { groups: lib.groups.filter((g) => !g.deleted), tags: lib.tags.filter((t) => !t.deleted) };
}
const mapRows = (connectionId: number) =>
  db
    .prepare('SELECT kind, wecom_id, segflow_id, name, origin FROM wecom_tag_map WHERE connection_id = ? AND deleted_at IS NULL')
    .bind(connectionId)
    .all<{ kind: string; wecom_id: string; segflow_id: number; name: string; origin: string }>()
    .then((r) => r.results);
const addCorpTagCalls = async (corpid: string) =>
  Object.entries(await sim<Record<string, number>>(`/corps/${corpid}/calls`, undefined, 'GET'))
    .filter(([k]) => k.includes('add_corp_tag'))
    .reduce((n, [, v]) => n + v, 0);

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
