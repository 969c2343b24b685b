import { describe, expect, it } from 'vitest';
import { setup } from './test-kit';

describe('batch/get_by_user (「批量获取客户详情」)', () => {
  it('pages every relation of the members exactly once, in pages of at most `limit`, whatever the page size', async () => {
    const { wecom, sim, token } = setup({}, { followUsers: 7, contacts: 437, sharedShare: 0.3 });
    const corp = sim.corp('wwtest')!;
    const userids = [...corp.followUsers.keys()];
    const t = await token();
    for (const limit of [1, 7, 50, 100, 1000]) {
      const seen: string[] = [];
      let cursor = '';
      let pages = 0;
      do {
        const r = await wecom('externalcontact/batch/get_by_user', { userid_list: userids, cursor, limit }, t);
        expect(r.errcode).toBe(0);
        expect(r.external_contact_list.length).toBeLessThanOrEqual(Math.min(limit, 100));
        for (const x of r.external_contact_list) seen.push(`${x.follow_info.userid}/${x.external_contact.external_userid}`);
        cursor = r.next_cursor;
        pages++;
      } while (cursor);
      expect(seen.length).toBe(corp.relations.size);
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBe(Math.max(1, Math.ceil(corp.relations.size / Math.min(limit, 100))));
    }
  });

  it('serves only the members asked for, with follow_info’s tag_id, state and add_way as stored', async () => {
    const { wecom, sim } = setup({}, { followUsers: 3, contacts: 80 });
    const corp = sim.corp('wwtest')!;
    const [u] = [...corp.followUsers.keys()];
    const r = await wecom('externalcontact/batch/get_by_user', { userid_list: [u], limit: 100 });
    expect(r.external_contact_list.map((x: any) => x.external_contact.external_userid)).toEqual(
      corp.relationsByUser.get(u!)!.map((x) => x.external_userid),
    );
    const first = r.external_contact_list[0];
    const rel = corp.relations.get(`${u}\n${first.external_contact.external_userid}`)!;
    expect(first.follow_info).toMatchObject({
      userid: u,
      tag_id: rel.tagIds,
      add_way: rel.add_way,
      createtime: rel.createtime,
      remark: rel.remark,
    });
    expect(first.follow_info.state).toBe(rel.state);
  });

  it('does not skip or repeat when relations are removed and added between pages', async () => {
    const { wecom, sim, admin, token } = setup({}, { followUsers: 2, contacts: 40, sharedShare: 0 });
    const corp = sim.corp('wwtest')!;
    const userids = [...corp.followUsers.keys()];
    const t = await token();
    const first = await wecom('externalcontact/batch/get_by_user', { userid_list: userids, limit: 10 }, t);
    const seen = first.external_contact_list.map((x: any) => x.external_contact.external_userid);
    // one already served and one not yet served leave; a new customer arrives
    const served = corp.relations.get(`${first.external_contact_list[0].follow_info.userid}\n${seen[0]}`)!;
    const pending = [...corp.relations.values()].find((r) => !seen.includes(r.external_userid))!;
    await admin('/corps/wwtest/changes/del-contact', { userid: served.userid, external_userid: served.external_userid });
    await admin('/corps/wwtest/changes/del-contact', { userid: pending.userid, external_userid: pending.external_userid });
    const added = (await admin('/corps/wwtest/changes/add-contact', { userid: userids[0], name: '新客户' })).body.external_userid;
    let cursor = first.next_cursor;
    while (cursor) {
      const r = await wecom('externalcontact/batch/get_by_user', { userid_list: userids, cursor, limit: 10 }, t);
      seen.push(...r.external_contact_list.map((x: any) => x.external_contact.external_userid));
      cursor = r.next_cursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).not.toContain(pending.external_userid);
    expect(seen).toContain(added);
    expect(seen.length).toBe(40 - 1 + 1);
  });

  it('refuses a cursor it did not hand out (50100), more than 100 members, and an unknown member', async () => {
    const { wecom, corp } = setup();
    const userids = [...corp.followUsers.keys()];
    expect((await wecom('externalcontact/batch/get_by_user', { userid_list: userids, cursor: 'not-a-cursor' })).errcode).toBe(50100);
    expect(
      (await wecom('externalcontact/batch/get_by_user', { userid_list: Array.from({ length: 101 }, (_, i) => `u${i}`) })).errcode,
    ).toBe(40058);
    expect((await wecom('externalcontact/batch/get_by_user', { userid_list: ['ghost'] })).errcode).toBe(40003);
  });
});

describe('list, get, get_follow_user_list', () => {
  it('lists each member’s customers and describes one with every follow user, tags, remark, add_way, state and createtime', async () => {
    const { wecom, sim } = setup({}, { sharedShare: 1 });
    const corp = sim.corp('wwtest')!;
    expect((await wecom('externalcontact/get_follow_user_list')).follow_user).toEqual([...corp.followUsers.keys()]);
    const [u] = [...corp.followUsers.keys()];
    const list = await wecom('externalcontact/list', undefined, undefined, `&userid=${u}`);
    expect(list.external_userid).toEqual(corp.relationsByUser.get(u!)!.map((r) => r.external_userid));
    const ext = list.external_userid[0];
    const d = await wecom('externalcontact/get', undefined, undefined, `&external_userid=${ext}`);
    const c = corp.contacts.get(ext)!;
    expect(d.external_contact).toMatchObject({ external_userid: ext, name: c.name, type: c.type, gender: c.gender });
    expect(d.follow_user.map((f: any) => f.userid)).toEqual(corp.followersByContact.get(ext));
    const rel = corp.relations.get(`${u}\n${ext}`)!;
    const f = d.follow_user.find((x: any) => x.userid === u);
    expect(f).toMatchObject({
      remark: rel.remark,
      description: rel.description,
      createtime: rel.createtime,
      add_way: rel.add_way,
      oper_userid: rel.oper_userid,
    });
    expect(f.tags.map((t: any) => t.tag_id)).toEqual(rel.tagIds);
    expect(d.next_cursor).toBe('');
  });

  it('answers 84061 for a customer nobody follows and for a member without customers, 40003 for a stranger', async () => {
    const { wecom, sim, admin } = setup({}, { followUsers: 2, contacts: 1, sharedShare: 0 });
    const corp = sim.corp('wwtest')!;
    const [ext] = [...corp.contacts.keys()];
    const [owner] = corp.followersByContact.get(ext!)!;
    const idle = [...corp.followUsers.keys()].find((u) => u !== owner)!;
    expect((await wecom('externalcontact/list', undefined, undefined, `&userid=${idle}`)).errcode).toBe(84061);
    expect((await wecom('externalcontact/list', undefined, undefined, `&userid=ghost`)).errcode).toBe(40003);
    await admin('/corps/wwtest/changes/del-contact', { userid: owner, external_userid: ext });
    expect((await wecom('externalcontact/get', undefined, undefined, `&external_userid=${ext}`)).errcode).toBe(84061);
  });
});

describe('groupchat/list and groupchat/get (「客户群」)', () => {
  it('pages every chat exactly once and describes members with need_name', async () => {
    const { wecom, sim, token } = setup({}, { chats: 23 });
    const corp = sim.corp('wwtest')!;
    const t = await token();
    const seen: string[] = [];
    let cursor = '';
    do {
      const r = await wecom('externalcontact/groupchat/list', { limit: 5, cursor }, t);
      expect(r.group_chat_list.length).toBeLessThanOrEqual(5);
      seen.push(...r.group_chat_list.map((g: any) => g.chat_id));
      cursor = r.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...corp.chats.keys()].sort());
    const chat = corp.chats.get(seen[0]!)!;
    const d = await wecom('externalcontact/groupchat/get', { chat_id: chat.chat_id, need_name: 1 }, t);
    expect(d.group_chat).toMatchObject({ chat_id: chat.chat_id, name: chat.name, owner: chat.owner });
    expect(d.group_chat.member_list).toHaveLength(chat.member_list.length);
    expect(d.group_chat.member_list[0].name).toBe(chat.member_list[0]!.name);
    const noName = await wecom('externalcontact/groupchat/get', { chat_id: chat.chat_id }, t);
    expect(noName.group_chat.member_list[0]).not.toHaveProperty('name');
    expect((await wecom('externalcontact/groupchat/list', { cursor: '' }, t)).errcode).toBe(40058);
    expect((await wecom('externalcontact/groupchat/get', { chat_id: 'wrghost' }, t)).errcode).toBe(40050);
  });

  it('filters by owner', async () => {
    const { wecom, sim } = setup({}, { chats: 12 });
    const corp = sim.corp('wwtest')!;
    const owner = [...corp.chats.values()][0]!.owner;
    const r = await wecom('externalcontact/groupchat/list', { limit: 1000, owner_filter: { userid_list: [owner] } });
    expect(r.group_chat_list.map((g: any) => g.chat_id).sort()).toEqual(
      [...corp.chats.values()]
        .filter((g) => g.owner === owner)
        .map((g) => g.chat_id)
        .sort(),
    );
  });
});
