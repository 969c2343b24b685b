import { describe, expect, it } from 'vitest';
import { setup } from './test-kit';

describe('the admin API (/__sim/)', () => {
  it('lists the corps it holds and the change kinds', async () => {
    const { admin } = setup();
    const r = await admin('');
    expect(r.status).toBe(200);
    expect(r.body.corps.map((c: any) => c.corpid)).toEqual(['wwtest']);
    expect(r.body.changeKinds).toContain('chat-join');
  });

  it('answers mistakes with 400 or 404 and a sentence, never a 500', async () => {
    const { admin, sim } = setup();
    const bad = await sim.app.request('http://wecom.test/__sim/seed', { method: 'POST', body: '{not json' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'the body is not JSON' });
    expect((await admin('/corps/wwnope')).status).toBe(404);
    expect((await admin('/corps/wwtest/changes/teleport', {})).status).toBe(404);
    const cb = await admin('/corps/wwtest/callback', { url: 'ftp://x', token: 't', encodingAesKey: 'k' }, 'PUT');
    expect(cb.status).toBe(400);
    expect(cb.body.error).toMatch(/url/);
    const mark = await admin('/corps/wwtest/changes/mark-tag', { userid: 'ghost', external_userid: 'wmghost', add_tag: ['x'] });
    expect(mark).toEqual({ status: 400, body: { error: 'errcode 40003: ghost' } });
  });

  it('resets one corp without touching another', async () => {
    const { admin, sim } = setup();
    sim.seed({ corpid: 'wwother', contacts: 2 });
    await admin('/reset', { corpid: 'wwtest' });
    expect(sim.corp('wwtest')).toBeUndefined();
    expect(sim.corp('wwother')).toBeDefined();
    await admin('/reset', {});
    expect(sim.corp('wwother')).toBeUndefined();
  });

  it('shows a contact’s tags per follow user by name', async () => {
    const { admin, sim } = setup();
    const rel = [...sim.corp('wwtest')!.relations.values()].find((r) => r.tagIds.length > 0)!;
    const view = (await admin(`/corps/wwtest/contacts/${rel.external_userid}`)).body;
    const fu = view.follow_users.find((f: any) => f.userid === rel.userid);
    expect(fu.tags.map((t: any) => t.id)).toEqual(rel.tagIds);
    expect(fu.tags[0].name).toBe(sim.corp('wwtest')!.tags.get(rel.tagIds[0]!)!.name);
  });

  it('counts the relations and customers holding a corp tag', async () => {
    const { admin, wecom, sim } = setup({}, { sharedShare: 1 });
    const corp = sim.corp('wwtest')!;
    const tag = (await wecom('externalcontact/add_corp_tag', { group_name: '同步', tag: [{ name: '高价值' }] })).tag_group.tag[0].id;
    const [ext, users] = [...corp.followersByContact.entries()].find(([, us]) => us.length === 2)!;
    for (const userid of users) await wecom('externalcontact/mark_tag', { userid, external_userid: ext, add_tag: [tag] });
    const h = (await admin(`/corps/wwtest/tags/${tag}/holders`)).body;
    expect(h).toEqual({ count: 2, customers: 1, relations: users.map((userid) => ({ userid, external_userid: ext })) });
    expect((await admin('/corps/wwtest/tags/etghost/holders')).status).toBe(404);
  });

  it('dumps every relation with its tags and the mark_tag calls accepted for it (none for a WeCom-side edit)', async () => {
    const { admin, wecom, sim } = setup();
    const corp = sim.corp('wwtest')!;
    const tag = (await wecom('externalcontact/add_corp_tag', { group_name: '同步', tag: [{ name: '高价值' }] })).tag_group.tag[0].id;
    const [first, second] = [...corp.relations.values()];
    await wecom('externalcontact/mark_tag', { userid: first!.userid, external_userid: first!.external_userid, add_tag: [tag] });
    await wecom('externalcontact/mark_tag', { userid: first!.userid, external_userid: first!.external_userid, remove_tag: [tag] });
    await admin('/corps/wwtest/changes/mark-tag', { userid: second!.userid, external_userid: second!.external_userid, add_tag: [tag] });
    const dump = (await admin('/corps/wwtest/relations')).body;
    expect(dump.contacts).toBe(corp.contacts.size);
    expect(dump.count).toBe(corp.relations.size);
    expect(dump.relations).toHaveLength(corp.relations.size);
    const row = (r: typeof first) => dump.relations.find((x: any) => x[0] === r!.userid && x[1] === r!.external_userid);
    expect(row(first)).toEqual([first!.userid, first!.external_userid, first!.tagIds, 2]);
    expect(row(second)[2]).toContain(tag);
    expect(row(second)[3]).toBe(0);
  });
});
