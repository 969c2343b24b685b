import { describe, expect, it } from 'vitest';
import { wecomDecrypt, wecomSignature } from '../../shared/src/wecom/crypto';
import { parseFlatXml } from '../../shared/src/wecom/xml';
import { type PendingCallback } from './callbacks';
import { setup, T0 } from './test-kit';

const TOKEN = 'QDG6eK';
const AES_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const URL_ = 'http://segflow.test/api/webhooks/wecom/src1';

async function open(cb: PendingCallback) {
  const envelope = parseFlatXml(cb.body);
  const encrypted = envelope.Encrypt as string;
  const expected = await wecomSignature(TOKEN, cb.query.timestamp, cb.query.nonce, encrypted);
  const { message, receiveId } = await wecomDecrypt(AES_KEY, encrypted);
  return { envelope, signatureOk: expected === cb.query.msg_signature, receiveId, fields: parseFlatXml(message) };
}

function withCallback() {
  const kit = setup();
  kit.sim.corp('wwtest')!.callback = { url: URL_, token: TOKEN, encodingAesKey: AES_KEY };
  return kit;
}

describe('callbacks (「加解密方案」, 「客户联系 · 事件」)', () => {
  it('sends an admin’s tag edit on a customer as edit_external_contact: signed, encrypted to the corp id, decryptable', async () => {
    const { admin, sim } = withCallback();
    const rel = [...sim.corp('wwtest')!.relations.values()][0]!;
    const tag = [...sim.corp('wwtest')!.tags.values()].find((t) => !rel.tagIds.includes(t.id))!;
    const r = await admin('/corps/wwtest/changes/mark-tag', {
      userid: rel.userid,
      external_userid: rel.external_userid,
      add_tag: [tag.id],
    });
    expect(r.status).toBe(200);
    expect(rel.tagIds).toContain(tag.id);
    const [cb, ...rest] = (await admin('/callbacks?corpid=wwtest')).body as PendingCallback[];
    expect(rest).toEqual([]);
    expect(cb!.method).toBe('POST');
    expect(cb!.url).toBe(URL_);
    expect(cb!.href).toBe(`${URL_}?msg_signature=${cb!.query.msg_signature}&timestamp=${cb!.query.timestamp}&nonce=${cb!.query.nonce}`);
    expect(cb!.query.timestamp).toBe(String(Math.floor(T0 / 1000)));
    const { envelope, signatureOk, receiveId, fields } = await open(cb!);
    expect(signatureOk).toBe(true);
    expect(receiveId).toBe('wwtest');
    expect(envelope.ToUserName).toBe('wwtest');
    expect(fields).toEqual({
      ToUserName: 'wwtest',
      FromUserName: 'sys',
      CreateTime: String(Math.floor(T0 / 1000)),
      MsgType: 'event',
      Event: 'change_external_contact',
      ChangeType: 'edit_external_contact',
      UserID: rel.userid,
      ExternalUserID: rel.external_userid,
    });
    // drained: nothing pending any more
    expect((await admin('/callbacks?corpid=wwtest')).body).toEqual([]);
  });

  it('does not verify under another token, nor decrypt under another key', async () => {
    const { admin, sim } = withCallback();
    const rel = [...sim.corp('wwtest')!.relations.values()][0]!;
    await admin('/corps/wwtest/changes/edit-remark', { userid: rel.userid, external_userid: rel.external_userid, remark: '王总' });
    const [cb] = (await admin('/callbacks?corpid=wwtest')).body as PendingCallback[];
    const encrypted = parseFlatXml(cb!.body).Encrypt as string;
    expect(await wecomSignature('OtherToken', cb!.query.timestamp, cb!.query.nonce, encrypted)).not.toBe(cb!.query.msg_signature);
    await expect(wecomDecrypt('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', encrypted)).rejects.toThrow();
  });

  it('sends a new customer’s add with State and WelcomeCode, and the customer becomes visible to the API', async () => {
    const { admin, sim, wecom } = withCallback();
    const [u] = [...sim.corp('wwtest')!.followUsers.keys()];
    const r = await admin('/corps/wwtest/changes/add-contact', { userid: u, name: '赵女士', state: 'store_sh_qr' });
    const ext = r.body.external_userid;
    const [cb] = (await admin('/callbacks?corpid=wwtest')).body as PendingCallback[];
    const { fields } = await open(cb!);
    expect(fields).toMatchObject({ ChangeType: 'add_external_contact', UserID: u, ExternalUserID: ext, State: 'store_sh_qr' });
    expect(fields.WelcomeCode).toBeTruthy();
    const d = await wecom('externalcontact/get', undefined, undefined, `&external_userid=${ext}`);
    expect(d.follow_user[0]).toMatchObject({ userid: u, state: 'store_sh_qr', add_way: 1 });
  });

  it('sends tag library changes as change_external_tag create / update / delete / shuffle', async () => {
    const { admin } = withCallback();
    const created = (await admin('/corps/wwtest/changes/create-tag', { group_name: '门店', tag: [{ name: '静安店' }] })).body.tag_group;
    const added = (await admin('/corps/wwtest/changes/create-tag', { group_id: created.group_id, tag: [{ name: '徐汇店' }] })).body
      .tag_group;
    const xuhui = added.tag.find((t: any) => t.name === '徐汇店');
    await admin('/corps/wwtest/changes/edit-tag', { id: xuhui.id, name: '徐汇旗舰店' });
    await admin('/corps/wwtest/changes/shuffle-tags', { group_id: created.group_id });
    await admin('/corps/wwtest/changes/delete-tag', { group_id: [created.group_id] });
    const cbs = (await admin('/callbacks?corpid=wwtest')).body as PendingCallback[];
    const events = await Promise.all(cbs.map(async (cb) => (await open(cb)).fields));
    expect(events.map((e) => [e.Event, e.ChangeType, e.TagType ?? '', e.Id])).toEqual([
      ['change_external_tag', 'create', 'tag_group', created.group_id],
      ['change_external_tag', 'create', 'tag', xuhui.id],
      ['change_external_tag', 'update', 'tag', xuhui.id],
      ['change_external_tag', 'shuffle', '', created.group_id],
      ['change_external_tag', 'delete', 'tag_group', created.group_id],
    ]);
  });

  it('sends a chat member joining as change_external_chat update/add_member with the member list and versions', async () => {
    const { admin, sim, wecom } = withCallback();
    const corp = sim.corp('wwtest')!;
    const chat = [...corp.chats.values()][0]!;
    const newcomer = [...corp.contacts.keys()].find((id) => !chat.member_list.some((m) => m.userid === id))!;
    const before = (await wecom('externalcontact/groupchat/get', { chat_id: chat.chat_id })).group_chat.member_version;
    await admin('/corps/wwtest/changes/chat-join', { chat_id: chat.chat_id, userids: [newcomer], join_scene: 3 });
    const [cb] = (await admin('/callbacks?corpid=wwtest')).body as PendingCallback[];
    const { fields } = await open(cb!);
    const after = (await wecom('externalcontact/groupchat/get', { chat_id: chat.chat_id })).group_chat;
    expect(fields).toMatchObject({
      Event: 'change_external_chat',
      ChatId: chat.chat_id,
      ChangeType: 'update',
      UpdateDetail: 'add_member',
      JoinScene: '3',
      MemChangeCnt: '1',
      MemChangeList: [newcomer],
      LastMemVer: before,
      CurMemVer: after.member_version,
    });
    expect(after.member_list.map((m: any) => m.userid)).toContain(newcomer);
  });

  it('keeps nothing when the corp has no callback URL, and keeps corps’ outboxes apart', async () => {
    const { admin, sim } = setup();
    const other = sim.seed({ corpid: 'wwother', contacts: 3 });
    other.callback = { url: URL_, token: TOKEN, encodingAesKey: AES_KEY };
    const rel = [...sim.corp('wwtest')!.relations.values()][0]!;
    await admin('/corps/wwtest/changes/edit-remark', { userid: rel.userid, external_userid: rel.external_userid, remark: 'x' });
    const orel = [...other.relations.values()][0]!;
    await admin('/corps/wwother/changes/edit-remark', { userid: orel.userid, external_userid: orel.external_userid, remark: 'y' });
    expect((await admin('/callbacks?corpid=wwtest')).body).toEqual([]);
    expect((await admin('/callbacks?corpid=wwother&peek=1')).body).toHaveLength(1);
    expect((await admin('/callbacks?corpid=wwother')).body).toHaveLength(1);
  });

  it('pushes in push mode, retrying a callback that got no 2xx, up to three times', async () => {
    const received: { url: string; body: string }[] = [];
    let failures = 2;
    const fakeFetch = (async (url: string, init: RequestInit) => {
      received.push({ url, body: String(init.body) });
      if (failures-- > 0) return new Response('busy', { status: 503 });
      return new Response('success');
    }) as unknown as typeof fetch;
    const kit = setup({ delivery: 'push', fetch: fakeFetch, retryDelayMs: 1 });
    kit.sim.corp('wwtest')!.callback = { url: URL_, token: TOKEN, encodingAesKey: AES_KEY };
    const rel = [...kit.sim.corp('wwtest')!.relations.values()][0]!;
    await kit.admin('/corps/wwtest/changes/del-follow-user', { userid: rel.userid, external_userid: rel.external_userid });
    await kit.sim.settled();
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
    expect(received[0]!.url).toMatch(
      /^http:\/\/segflow\.test\/api\/webhooks\/wecom\/src1\?msg_signature=[0-9a-f]{40}&timestamp=\d+&nonce=\d+$/,
    );
    const attempts = (await kit.admin('/deliveries')).body;
    expect(attempts.map((a: any) => a.status)).toEqual([503, 503, 200]);
    expect(attempts[2].answer).toBe('success');
  });
});
