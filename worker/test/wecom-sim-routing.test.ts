// The worker tests reach the local WeCom simulator at http://wecom.test through miniflare's
// outbound service (worker/test/fake-receiver.ts → tools/wecom-sim): one shared instance, so each
// test file seeds its own corp id.
import { wecomDecrypt, wecomSignature } from '@shared/wecom/crypto';
import { parseFlatXml } from '@shared/wecom/xml';
import { describe, expect, it } from 'vitest';
import { createWecomSim } from '../../tools/wecom-sim/app';

const sim = (path: string, body?: unknown, method?: string) =>
  fetch(`http://wecom.test${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then((r) => r.json() as Promise<any>);

describe('wecom.test', () => {
  it('is the WeCom simulator: seed a corp, get a token, read its tag library', async () => {
    const corp = await sim('/__sim/seed', { corpid: 'wwrouting', seed: 'routing', contacts: 10 });
    expect(corp.counts.contacts).toBe(10);
    const tok = await sim(`/cgi-bin/gettoken?corpid=wwrouting&corpsecret=${corp.contactSecret}`);
    expect(tok).toMatchObject({ errcode: 0, expires_in: 7200 });
    const lib = await sim(`/cgi-bin/externalcontact/get_corp_tag_list?access_token=${tok.access_token}`, {});
    expect(lib.errcode).toBe(0);
    expect(lib.tag_group.length).toBeGreaterThan(0);
    expect((await sim('/__sim/corps/wwrouting/calls'))['externalcontact/get_corp_tag_list']).toBe(1);
  });

  it('hands its callbacks to the test, signed and encrypted so the shared crypto opens them inside workerd', async () => {
    const token = 'QDG6eK';
    const aesKey = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
    const corp = await sim('/__sim/seed', { corpid: 'wwrouting2', seed: 'routing', contacts: 5 });
    await sim(
      '/__sim/corps/wwrouting2/callback',
      { url: 'http://segflow.test/api/webhooks/wecom/x', token, encodingAesKey: aesKey },
      'PUT',
    );
    const added = await sim('/__sim/corps/wwrouting2/changes/add-contact', {
      userid: corp.followUsers[0],
      name: '钱先生',
      state: 'poster_2026q4',
    });
    const [cb] = await sim('/__sim/callbacks?corpid=wwrouting2');
    const encrypted = parseFlatXml(cb.body).Encrypt as string;
    expect(await wecomSignature(token, cb.query.timestamp, cb.query.nonce, encrypted)).toBe(cb.query.msg_signature);
    const { message, receiveId } = await wecomDecrypt(aesKey, encrypted);
    expect(receiveId).toBe('wwrouting2');
    expect(parseFlatXml(message)).toMatchObject({
      ChangeType: 'add_external_contact',
      ExternalUserID: added.external_userid,
      State: 'poster_2026q4',
    });
  });

  it('still sends every other host to the fake receiver', async () => {
    const res = await fetch('http://receiver.test/ok/wecom-routing', { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
    expect(((await (await fetch('http://receiver.test/__log/wecom-routing')).json()) as any).received).toHaveLength(1);
  });
});

describe('the simulator itself', () => {
  it('runs inside workerd too (in-memory state and WebCrypto only): tokens, paging, a sealed callback', async () => {
    const local = createWecomSim();
    const corp = local.seed({ corpid: 'wwinworkerd', contacts: 30 });
    corp.callback = { url: 'http://segflow.test/cb', token: 'QDG6eK', encodingAesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C' };
    const call = async (path: string, body?: unknown): Promise<any> => {
      const res = await local.app.request(path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
      return res.json();
    };
    const { access_token } = await call(`/cgi-bin/gettoken?corpid=wwinworkerd&corpsecret=${corp.contactSecret}`);
    const page = await call(`/cgi-bin/externalcontact/batch/get_by_user?access_token=${access_token}`, {
      userid_list: [...corp.followUsers.keys()],
      limit: 100,
    });
    expect(page.external_contact_list).toHaveLength(corp.relations.size);
    const rel = [...corp.relations.values()][0]!;
    await call('/__sim/corps/wwinworkerd/changes/edit-remark', {
      userid: rel.userid,
      external_userid: rel.external_userid,
      remark: '孙总',
    });
    const [cb] = await call('/__sim/callbacks?corpid=wwinworkerd');
    const { message } = await wecomDecrypt(corp.callback.encodingAesKey, parseFlatXml(cb.body).Encrypt as string);
    expect(parseFlatXml(message)).toMatchObject({ ChangeType: 'edit_external_contact', UserID: rel.userid });
  });
});
