import { describe, expect, it } from 'vitest';
import { createWecomSim } from './app';
import { SimClock } from './clock';

const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);

function setup(opts: Parameters<typeof createWecomSim>[0] = {}) {
  const clock = new SimClock(T0);
  const sim = createWecomSim({ clock, ...opts });
  const corp = sim.seed({ corpid: 'wwtest', seed: 'unit', followUsers: 4, contacts: 60, chats: 3 });
  const call = async (path: string, init?: { body?: unknown; method?: string }) => {
    const res = await sim.app.request(`http://wecom.test${path}`, {
      method: init?.method ?? (init?.body !== undefined ? 'POST' : 'GET'),
      body: init?.body !== undefined ? JSON.stringify(init.body) : undefined,
      headers: { 'content-type': 'application/json' },
    });
    return (await res.json()) as any;
  };
  const token = async (secret = corp.contactSecret) =>
    (await call(`/cgi-bin/gettoken?corpid=wwtest&corpsecret=${secret}`)).access_token as string;
  return { sim, clock, corp, call, token };
}

describe('gettoken', () => {
  it('gives a 7200 s token for the 客户联系 secret and refuses a wrong corp id or secret', async () => {
    const { call, corp } = setup();
    const ok = await call(`/cgi-bin/gettoken?corpid=wwtest&corpsecret=${corp.contactSecret}`);
    expect(ok).toMatchObject({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    expect(ok.access_token).toMatch(/^[\w-]{20,}$/);
    expect((await call(`/cgi-bin/gettoken?corpid=wwnope&corpsecret=${corp.contactSecret}`)).errcode).toBe(40013);
    expect((await call('/cgi-bin/gettoken?corpid=wwtest&corpsecret=wrong')).errcode).toBe(40001);
    expect((await call('/cgi-bin/gettoken?corpsecret=x')).errcode).toBe(41002);
  });

  it('hands back the same token while it is valid, and a new one after it expired', async () => {
    const { token, clock, call } = setup();
    const a = await token();
    clock.advance(3600_000);
    const again = await call(`/cgi-bin/gettoken?corpid=wwtest&corpsecret=wwtest-contact-secret`);
    expect(again.access_token).toBe(a);
    expect(again.expires_in).toBe(3600);
    clock.advance(3600_000);
    expect(await token()).not.toBe(a);
  });
});

describe('access_token checks', () => {
  it('answers 41001 without a token, 40014 for an unknown one and 42001 once it expired', async () => {
    const { token, clock, call } = setup();
    const t = await token();
    expect((await call('/cgi-bin/externalcontact/get_corp_tag_list', { body: {} })).errcode).toBe(41001);
    expect((await call('/cgi-bin/externalcontact/get_corp_tag_list?access_token=bogus', { body: {} })).errcode).toBe(40014);
    expect((await call(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${t}`, { body: {} })).errcode).toBe(0);
    clock.advance(7199_000);
    expect((await call(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${t}`, { body: {} })).errcode).toBe(0);
    clock.advance(1000);
    const expired = await call(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${t}`, { body: {} });
    expect(expired.errcode).toBe(42001);
    expect(expired.errmsg).toContain('access_token expired');
  });
});

describe('get_corp_tag_list', () => {
  it('returns the seeded library by group, higher order first, filtered by group_id or tag_id', async () => {
    const { token, call, corp } = setup();
    const t = await token();
    const all = await call(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${t}`, { body: {} });
    expect(all.tag_group.map((g: any) => g.group_name)).toEqual(['客户等级', '客户来源', '意向产品', '生命周期', '行业', '地区']);
    expect(all.tag_group[0].tag.map((x: any) => x.name)).toEqual(['重要客户', '普通客户', '潜在客户']);
    const total = all.tag_group.reduce((n: number, g: any) => n + g.tag.length, 0);
    expect(total).toBe(corp.tags.size);
    const g = all.tag_group[1];
    const byGroup = await call(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${t}`, {
      body: { group_id: [g.group_id], tag_id: [all.tag_group[0].tag[0].id] },
    });
    expect(byGroup.tag_group).toHaveLength(1);
    expect(byGroup.tag_group[0].tag).toHaveLength(g.tag.length);
    const byTag = await call(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${t}`, { body: { tag_id: [g.tag[1].id] } });
    expect(byTag.tag_group).toEqual([{ ...g, tag: [g.tag[1]] }]);
  });

  it('refuses the self-built app’s token with 48002 (客户联系 APIs need the 客户联系 secret)', async () => {
    const { token, call } = setup();
    const t = await token('wwtest-agent-secret');
    expect((await call(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${t}`, { body: {} })).errcode).toBe(48002);
  });
});

describe('demo seed', () => {
  it('is the same corp for the same seed and a different one for another seed', () => {
    const a = createWecomSim({ clock: new SimClock(T0) }).seed({ seed: 42, contacts: 50 });
    const b = createWecomSim({ clock: new SimClock(T0) }).seed({ seed: 42, contacts: 50 });
    const c = createWecomSim({ clock: new SimClock(T0) }).seed({ seed: 43, contacts: 50 });
    const dump = (x: typeof a) =>
      JSON.stringify({ u: [...x.followUsers], c: [...x.contacts], r: [...x.relations], t: [...x.tags], g: [...x.chats] });
    expect(dump(a)).toBe(dump(b));
    expect(dump(a)).not.toBe(dump(c));
    expect(a.contacts.size).toBe(50);
    expect([...a.contacts.values()].every((x) => /^wm[A-Za-z0-9]{30}$/.test(x.external_userid))).toBe(true);
  });
});
