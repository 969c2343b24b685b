import { describe, expect, it } from 'vitest';
import { setup } from './test-kit';

describe('gettoken (「获取access_token」)', () => {
  it('gives a 7200 s token for the 客户联系 secret and refuses a wrong corp id or secret', async () => {
    const { call, corp } = setup();
    const ok = await call(`/cgi-bin/gettoken?corpid=wwtest&corpsecret=${corp.contactSecret}`);
    expect(ok).toMatchObject({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    expect(ok.access_token).toMatch(/^[\w-]{64}$/);
    expect((await call(`/cgi-bin/gettoken?corpid=wwnope&corpsecret=${corp.contactSecret}`)).errcode).toBe(40013);
    const badSecret = await call('/cgi-bin/gettoken?corpid=wwtest&corpsecret=wrong');
    expect(badSecret.errcode).toBe(40001);
    expect(badSecret.errmsg).toMatch(
      /^invalid credential, hint: \[.*more info at https:\/\/open\.work\.weixin\.qq\.com\/devtool\/query\?e=40001$/,
    );
    expect((await call('/cgi-bin/gettoken?corpsecret=x')).errcode).toBe(41002);
    expect((await call('/cgi-bin/gettoken?corpid=wwtest')).errcode).toBe(41004);
  });

  it('keeps the 客户联系 token and each self-built app’s token apart', async () => {
    const { token, corp } = setup();
    const contact = await token();
    const agent = await token(corp.agents[0]!.secret);
    expect(agent).not.toBe(contact);
  });

  it('hands back the same token while it is valid (with what is left of it), and a new one after it expired', async () => {
    const { token, clock, call, corp } = setup();
    const a = await token();
    clock.advance(3600_000);
    const again = await call(`/cgi-bin/gettoken?corpid=wwtest&corpsecret=${corp.contactSecret}`);
    expect(again.access_token).toBe(a);
    expect(again.expires_in).toBe(3600);
    clock.advance(3600_000);
    expect(await token()).not.toBe(a);
  });
});

describe('access_token checks', () => {
  it('answers 41001 without a token, 40014 for an unknown one, 42001 from the second the token expires', async () => {
    const { token, clock, call } = setup();
    const t = await token();
    const list = (q: string) => call(`/cgi-bin/externalcontact/get_follow_user_list${q}`);
    expect((await list('')).errcode).toBe(41001);
    const unknown = await list('?access_token=bogus');
    expect(unknown).toMatchObject({ errcode: 40014, follow_user: [] });
    expect((await list(`?access_token=${t}`)).errcode).toBe(0);
    clock.advance(7199_000);
    expect((await list(`?access_token=${t}`)).errcode).toBe(0);
    clock.advance(1000);
    const expired = await list(`?access_token=${t}`);
    expect(expired.errcode).toBe(42001);
    expect(expired.errmsg).toContain('access_token expired');
    // a new token does not turn the old one into an unknown one
    const fresh = await token();
    expect(fresh).not.toBe(t);
    expect((await list(`?access_token=${t}`)).errcode).toBe(42001);
    expect((await list(`?access_token=${fresh}`)).errcode).toBe(0);
  });

  it('answers 40014 once WeCom revoked the corp’s tokens early, and a new token works', async () => {
    const { token, wecom, admin } = setup();
    const t = await token();
    expect((await admin('/corps/wwtest/revoke-tokens', {})).status).toBe(200);
    expect((await wecom('externalcontact/get_follow_user_list', undefined, t)).errcode).toBe(40014);
    expect((await wecom('externalcontact/get_follow_user_list')).errcode).toBe(0);
  });

  it('moves one corp’s time alone, so tests sharing the simulator do not expire each other’s tokens', async () => {
    const { sim, token, wecom, admin } = setup();
    const other = sim.seed({ corpid: 'wwother', seed: 'o', contacts: 5 });
    const mine = await token();
    const theirs = sim.token(other, 'contact').access_token;
    await admin('/corps/wwtest/clock', { advanceMs: 7200_000 });
    expect((await wecom('externalcontact/get_follow_user_list', undefined, mine)).errcode).toBe(42001);
    expect((await wecom('externalcontact/get_follow_user_list', undefined, theirs)).errcode).toBe(0);
  });
});

describe('48002 and 301002', () => {
  it('refuses a self-built app not listed in 客户联系 → 可调用接口的应用 with 48002, and serves one that is', async () => {
    const listed = setup();
    const t1 = await listed.token(listed.corp.agents[0]!.secret);
    expect((await listed.wecom('externalcontact/get_corp_tag_list', {}, t1)).errcode).toBe(0);
    const unlisted = setup({}, { agentContactApi: false });
    const t2 = await unlisted.token(unlisted.corp.agents[0]!.secret);
    expect((await unlisted.wecom('externalcontact/get_corp_tag_list', {}, t2)).errcode).toBe(48002);
  });

  it('sends an app message only with the app’s own token (301002 otherwise) and drops the 31st to one member in a minute', async () => {
    const { token, wecom, corp, sim } = setup();
    const agent = corp.agents[0]!;
    const [u] = [...corp.followUsers.keys()];
    const msg = { touser: u, msgtype: 'text', agentid: agent.agentid, text: { content: '您有新的待跟进客户' } };
    expect((await wecom('message/send', msg, await token())).errcode).toBe(301002);
    const t = await token(agent.secret);
    for (let i = 0; i < 31; i++) expect((await wecom('message/send', msg, t)).errcode).toBe(0);
    const sent = sim.corp('wwtest')!.messages;
    expect(sent.filter((m) => !m.dropped)).toHaveLength(30);
    expect(sent.at(-1)!.dropped).toBe(true);
    expect((await wecom('message/send', { ...msg, touser: 'nobody' }, t)).errcode).toBe(81013);
    expect((await wecom('message/send', { ...msg, text: { content: '' } }, t)).errcode).toBe(44004);
  });

  it('drops app messages to one member past 1,000 in an hour, even at 30 a minute (「访问频率限制」)', async () => {
    const { token, wecom, corp, sim, clock } = setup();
    const agent = corp.agents[0]!;
    const [u] = [...corp.followUsers.keys()];
    const msg = { touser: u, msgtype: 'text', agentid: agent.agentid, text: { content: '提醒' } };
    const t = await token(agent.secret);
    // 33 minutes of 30 messages (990), then 10 more in the 34th minute make 1,000; the 1,001st is dropped
    for (let m = 0; m < 34; m++) {
      for (let i = 0; i < (m < 33 ? 30 : 11); i++) expect((await wecom('message/send', msg, t)).errcode).toBe(0);
      clock.advance(60_000);
    }
    const sent = sim.corp('wwtest')!.messages;
    expect(sent.filter((m) => !m.dropped)).toHaveLength(1000);
    expect(sent.at(-1)!.dropped).toBe(true);
    // an hour after the first ones, the member may be sent to again
    clock.advance(27 * 60_000);
    expect((await wecom('message/send', msg, t)).errcode).toBe(0);
    expect(sent.at(-1)!.dropped).toBe(false);
  });
});
