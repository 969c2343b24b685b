import { describe, expect, it } from 'vitest';
import { setup } from './test-kit';

describe('get_corp_tag_list (「管理企业标签」)', () => {
  it('returns the seeded library by group, higher order first, filtered by group_id (which wins) or tag_id', async () => {
    const { wecom, corp } = setup();
    const all = await wecom('externalcontact/get_corp_tag_list', {});
    expect(all.tag_group.map((g: any) => g.group_name)).toEqual(['客户等级', '客户来源', '意向产品', '生命周期', '行业', '地区']);
    expect(all.tag_group[0].tag.map((x: any) => x.name)).toEqual(['重要客户', '普通客户', '潜在客户']);
    expect(all.tag_group[0]).not.toHaveProperty('deleted');
    expect(all.tag_group.reduce((n: number, g: any) => n + g.tag.length, 0)).toBe(corp.tags.size);
    const g = all.tag_group[1];
    const byGroup = await wecom('externalcontact/get_corp_tag_list', { group_id: [g.group_id], tag_id: [all.tag_group[0].tag[0].id] });
    expect(byGroup.tag_group).toEqual([g]);
    const byTag = await wecom('externalcontact/get_corp_tag_list', { tag_id: [g.tag[1].id] });
    expect(byTag.tag_group).toEqual([{ ...g, deleted: false, tag: [{ ...g.tag[1], deleted: false }] }]);
  });

  it('answers a deleted tag only when asked by its id, marked deleted', async () => {
    const { wecom, admin } = setup();
    const all = await wecom('externalcontact/get_corp_tag_list', {});
    const victim = all.tag_group[0].tag[0];
    expect((await admin('/corps/wwtest/changes/delete-tag', { tag_id: [victim.id] })).status).toBe(200);
    const after = await wecom('externalcontact/get_corp_tag_list', {});
    expect(after.tag_group[0].tag.map((t: any) => t.id)).not.toContain(victim.id);
    const byId = await wecom('externalcontact/get_corp_tag_list', { tag_id: [victim.id] });
    expect(byId.tag_group[0].tag).toEqual([{ ...victim, deleted: true }]);
  });
});

describe('add_corp_tag / edit_corp_tag / del_corp_tag', () => {
  it('creates a group with its tags, adds to an existing group by name, and creates a same-named tag only once', async () => {
    const { wecom } = setup();
    const a = await wecom('externalcontact/add_corp_tag', {
      group_name: 'Segflow·RFM',
      order: 5,
      tag: [{ name: '高价值', order: 2 }, { name: '待激活' }],
    });
    expect(a.errcode).toBe(0);
    expect(a.tag_group).toMatchObject({ group_name: 'Segflow·RFM', order: 5 });
    expect(a.tag_group.group_id).toMatch(/^et[A-Za-z0-9]{30}$/);
    expect(a.tag_group.tag.map((t: any) => t.name)).toEqual(['高价值', '待激活']);
    const b = await wecom('externalcontact/add_corp_tag', { group_name: 'Segflow·RFM', tag: [{ name: '高价值' }, { name: '流失预警' }] });
    expect(b.tag_group.group_id).toBe(a.tag_group.group_id);
    expect(b.tag_group.tag.find((t: any) => t.name === '高价值').id).toBe(a.tag_group.tag[0].id);
    const lib = await wecom('externalcontact/get_corp_tag_list', { group_id: [a.tag_group.group_id] });
    expect(lib.tag_group[0].tag.map((t: any) => t.name).sort()).toEqual(['待激活', '流失预警', '高价值']);
    expect((await wecom('externalcontact/add_corp_tag', { group_name: '空组', tag: [] })).errcode).toBe(40058);
    expect((await wecom('externalcontact/add_corp_tag', { group_id: 'etnope', tag: [{ name: 'x' }] })).errcode).toBe(40068);
  });

  it('lets an app edit and delete the tags it created, and answers 301002 for a tag an admin or another app created', async () => {
    const { wecom, token, corp } = setup();
    const adminTag = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group[0].tag[0];
    const contact = await token();
    const mine = (await wecom('externalcontact/add_corp_tag', { group_name: '同步组', tag: [{ name: '甲' }] }, contact)).tag_group;
    expect((await wecom('externalcontact/edit_corp_tag', { id: adminTag.id, name: '改名' }, contact)).errcode).toBe(301002);
    expect((await wecom('externalcontact/del_corp_tag', { tag_id: [adminTag.id] }, contact)).errcode).toBe(301002);
    // another app (the self-built one) did not create 同步组 either
    const agentToken = await token(corp.agents[0]!.secret);
    expect((await wecom('externalcontact/edit_corp_tag', { id: mine.tag[0].id, name: '乙' }, agentToken)).errcode).toBe(301002);
    expect((await wecom('externalcontact/edit_corp_tag', { id: mine.tag[0].id, name: '乙', order: 9 }, contact)).errcode).toBe(0);
    const after = await wecom('externalcontact/get_corp_tag_list', { group_id: [mine.group_id] }, contact);
    expect(after.tag_group[0].tag[0]).toMatchObject({ name: '乙', order: 9 });
    expect((await wecom('externalcontact/del_corp_tag', { group_id: [mine.group_id] }, contact)).errcode).toBe(0);
    expect((await wecom('externalcontact/get_corp_tag_list', { group_id: [mine.group_id] }, contact)).tag_group).toEqual([]);
  });

  it('lets the 客户联系 token edit every tag when the corp keeps the older (存量企业) rule', async () => {
    const { wecom, admin } = setup();
    const adminTag = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group[0].tag[0];
    await admin('/corps/wwtest/settings', { contactSecretEditsAllTags: true }, 'PUT');
    expect((await wecom('externalcontact/edit_corp_tag', { id: adminTag.id, name: '改名' })).errcode).toBe(0);
  });

  it('refuses a rename onto a name the group already has (40071)', async () => {
    const { wecom } = setup();
    const g = (await wecom('externalcontact/add_corp_tag', { group_name: '组', tag: [{ name: 'a' }, { name: 'b' }] })).tag_group;
    expect((await wecom('externalcontact/edit_corp_tag', { id: g.tag[1].id, name: 'a' })).errcode).toBe(40071);
  });

  it('renames a group unless another group has the name (40071), and answers 40068 for an unknown or deleted id, 40058 past 30 characters', async () => {
    const { wecom } = setup();
    const g = (await wecom('externalcontact/add_corp_tag', { group_name: '改名组', tag: [{ name: 'a' }, { name: 'b' }] })).tag_group;
    expect((await wecom('externalcontact/edit_corp_tag', { id: g.group_id, name: '客户等级' })).errcode).toBe(40071);
    expect((await wecom('externalcontact/edit_corp_tag', { id: g.group_id, name: '新组名' })).errcode).toBe(0);
    const lib = await wecom('externalcontact/get_corp_tag_list', { group_id: [g.group_id] });
    expect(lib.tag_group[0].group_name).toBe('新组名');
    expect((await wecom('externalcontact/edit_corp_tag', { id: 'etnope', name: 'x' })).errcode).toBe(40068);
    expect((await wecom('externalcontact/edit_corp_tag', { id: g.tag[0].id, name: '长'.repeat(31) })).errcode).toBe(40058);
    expect((await wecom('externalcontact/del_corp_tag', { tag_id: [g.tag[0].id] })).errcode).toBe(0);
    expect((await wecom('externalcontact/edit_corp_tag', { id: g.tag[0].id, name: 'c' })).errcode).toBe(40068);
    expect((await wecom('externalcontact/del_corp_tag', { tag_id: [g.tag[0].id] })).errcode).toBe(40068);
  });

  it('stops at the corp tag limit (10,000 by default; here set to the seeded 25 + 3) with 40126, creating nothing', async () => {
    const { wecom } = setup({ maxCorpTags: 28 });
    expect((await wecom('externalcontact/add_corp_tag', { group_name: 'A', tag: [{ name: '1' }, { name: '2' }] })).errcode).toBe(0);
    const over = await wecom('externalcontact/add_corp_tag', { group_name: 'B', tag: [{ name: '1' }, { name: '2' }] });
    expect(over.errcode).toBe(40126);
    const names = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group.map((g: any) => g.group_name);
    expect(names).toContain('A');
    expect(names).not.toContain('B');
    expect((await wecom('externalcontact/add_corp_tag', { group_name: 'A', tag: [{ name: '3' }] })).errcode).toBe(0);
  });

  it('takes a deleted tag off every customer that held it, and deletes a group whose last tag goes', async () => {
    const { wecom, sim } = setup();
    const corp = sim.corp('wwtest')!;
    const g = (await wecom('externalcontact/add_corp_tag', { group_name: '单标签组', tag: [{ name: '唯一' }] })).tag_group;
    const rel = [...corp.relations.values()][0]!;
    expect(
      (await wecom('externalcontact/mark_tag', { userid: rel.userid, external_userid: rel.external_userid, add_tag: [g.tag[0].id] }))
        .errcode,
    ).toBe(0);
    expect(rel.tagIds).toContain(g.tag[0].id);
    expect((await wecom('externalcontact/del_corp_tag', { tag_id: [g.tag[0].id] })).errcode).toBe(0);
    expect(rel.tagIds).not.toContain(g.tag[0].id);
    expect(corp.tagGroups.get(g.group_id)!.deleted).toBe(true);
  });
});

describe('mark_tag (「编辑客户企业标签」)', () => {
  it('adds and removes corp tags on one follow-user relation only', async () => {
    const { wecom, sim } = setup({}, { sharedShare: 1 });
    const corp = sim.corp('wwtest')!;
    const shared = [...corp.followersByContact.entries()].find(([, us]) => us.length === 2)!;
    const [ext, [u1, u2]] = shared as [string, string[]];
    const tags = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group[3].tag;
    const before2 = [...corp.relations.get(`${u2}\n${ext}`)!.tagIds];
    const r = await wecom('externalcontact/mark_tag', {
      userid: u1,
      external_userid: ext,
      add_tag: [tags[0].id, tags[1].id],
      remove_tag: [],
    });
    expect(r).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(corp.relations.get(`${u1}\n${ext}`)!.tagIds).toEqual(expect.arrayContaining([tags[0].id, tags[1].id]));
    expect(corp.relations.get(`${u2}\n${ext}`)!.tagIds).toEqual(before2);
    await wecom('externalcontact/mark_tag', { userid: u1, external_userid: ext, remove_tag: [tags[0].id] });
    expect(corp.relations.get(`${u1}\n${ext}`)!.tagIds).not.toContain(tags[0].id);
    const detail = await wecom('externalcontact/get', undefined, undefined, `&external_userid=${ext}`);
    const fu = detail.follow_user.find((f: any) => f.userid === u1);
    expect(fu.tags).toContainEqual({ group_name: '生命周期', tag_name: tags[1].name, tag_id: tags[1].id, type: 1 });
  });

  it('answers 84061 when the member and the customer have no relation, and after the member deleted the customer', async () => {
    const { wecom, sim, admin } = setup();
    const corp = sim.corp('wwtest')!;
    const tag = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group[0].tag[0].id;
    const [u1] = [...corp.followUsers.keys()];
    const stranger = [...corp.contacts.keys()].find((ext) => !corp.relations.has(`${u1}\n${ext}`))!;
    expect((await wecom('externalcontact/mark_tag', { userid: u1, external_userid: stranger, add_tag: [tag] })).errcode).toBe(84061);
    const rel = corp.relationsByUser.get(u1!)![0]!;
    const ext = rel.external_userid;
    await admin('/corps/wwtest/changes/del-contact', { userid: u1, external_userid: ext });
    expect((await wecom('externalcontact/mark_tag', { userid: u1, external_userid: ext, add_tag: [tag] })).errcode).toBe(84061);
  });

  it('still tags a relation the customer deleted (one-way, as 84061’s explanation says)', async () => {
    const { wecom, sim, admin } = setup();
    const rel = [...sim.corp('wwtest')!.relations.values()][0]!;
    const tag = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group[0].tag[0].id;
    await admin('/corps/wwtest/changes/del-follow-user', { userid: rel.userid, external_userid: rel.external_userid });
    expect(
      (await wecom('externalcontact/mark_tag', { userid: rel.userid, external_userid: rel.external_userid, add_tag: [tag] })).errcode,
    ).toBe(0);
  });

  it('refuses unknown members, customers and tags, and an empty change', async () => {
    const { wecom, sim } = setup();
    const rel = [...sim.corp('wwtest')!.relations.values()][0]!;
    const tag = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group[0].tag[0].id;
    const base = { userid: rel.userid, external_userid: rel.external_userid };
    expect((await wecom('externalcontact/mark_tag', { ...base, userid: 'ghost', add_tag: [tag] })).errcode).toBe(40003);
    expect((await wecom('externalcontact/mark_tag', { ...base, external_userid: 'wmghost', add_tag: [tag] })).errcode).toBe(40096);
    expect((await wecom('externalcontact/mark_tag', { ...base, add_tag: ['etghost'] })).errcode).toBe(40068);
    expect((await wecom('externalcontact/mark_tag', { ...base })).errcode).toBe(40058);
  });

  it('answers 45035 to a second mark of the same member and customer while the first is in flight', async () => {
    const { wecom, sim, admin, token } = setup();
    const rel = [...sim.corp('wwtest')!.relations.values()][0]!;
    const tag = (await wecom('externalcontact/get_corp_tag_list', {})).tag_group[0].tag[0].id;
    await admin('/corps/wwtest/limits', { latencyMs: 30 }, 'PUT');
    const t = await token();
    const body = { userid: rel.userid, external_userid: rel.external_userid, add_tag: [tag] };
    const [a, b] = await Promise.all([wecom('externalcontact/mark_tag', body, t), wecom('externalcontact/mark_tag', body, t)]);
    expect([a.errcode, b.errcode].sort()).toEqual([0, 45035]);
  });
});
