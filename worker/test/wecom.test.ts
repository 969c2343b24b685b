import { env, exports } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { wecomDecrypt, wecomEncrypt, wecomSignature } from '@shared/wecom/crypto';
import { parseFlatXml } from '@shared/wecom/xml';
import { mapWecomCallback } from '../src/wecom/map';
import { api, eventually } from './fixtures';

const TOKEN = 'QDG6eK';
const AES_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const CORP = 'wx5823bf96d3bd56c7';

/** msg_signature as WeCom computes it, written out independently. */
async function sha1Sig(...parts: string[]): Promise<string> {
  const d = await crypto.subtle.digest('SHA-1', new TextEncoder().encode([...parts].sort().join('')));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function call(method: 'GET' | 'POST', source: string, params: Record<string, string>, body?: string) {
  const url = `http://segflow.test/api/webhooks/wecom/${source}?${new URLSearchParams(params)}`;
  const res = await exports.default.fetch(new Request(url, { method, body, headers: body ? { 'content-type': 'text/xml' } : {} }));
  return { status: res.status, text: await res.text(), outcome: res.headers.get('X-Segflow-Wecom') };
}

/** The POST WeCom would send for `inner`: envelope and query, encrypted and signed. */
async function callback(inner: string, opts: { receiveId?: string; tamper?: boolean; timestamp?: string } = {}) {
  const encrypted = await wecomEncrypt(AES_KEY, inner, opts.receiveId ?? CORP);
  const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = String(Math.floor(Math.random() * 1e9));
  const sig = await sha1Sig(TOKEN, timestamp, nonce, encrypted);
  const body = `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`;
  return { params: { msg_signature: opts.tamper ? sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) : sig, timestamp, nonce }, body };
}

/** Encrypts a callback as WeCom would and posts it. */
async function deliver(inner: string, opts: { receiveId?: string; source?: string; tamper?: boolean; timestamp?: string } = {}) {
  const { params, body } = await callback(inner, opts);
  return call('POST', opts.source ?? 'corp', params, body);
}

const countEvents = async () => (await env.DB.prepare('SELECT COUNT(*) AS n FROM events').first<{ n: number }>())!.n;

/** A decrypted callback as WeCom's documentation shows them: the common head, then `fields`. */
const doc = (msgType: string, fields: string, createTime = T) =>
  `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>${createTime}</CreateTime>` +
  `<MsgType><![CDATA[${msgType}]]></MsgType>${fields}</xml>`;
const cdata = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
    .join('');

const T = 1_763_000_000; // CreateTime, unix seconds

const contactEvent = (change: string, ext: string, extra = '') =>
  `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>${T}</CreateTime>` +
  `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[${change}]]></ChangeType>` +
  `<UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[${ext}]]></ExternalUserID>${extra}</xml>`;

beforeAll(async () => {
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO event_sources (id, name, kind, secret, wecom_token, wecom_aes_key, wecom_corp_id) VALUES ('corp', '企业微信', 'wecom', 'unused', ?, ?, ?)`,
    ).bind(TOKEN, AES_KEY, CORP),
  ]);
});

describe('WeCom crypto', () => {
  it('matches the published WXBizMsgCrypt test vector (random "aaaabbbbccccdddd")', async () => {
    const key = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
    const ct = await wecomEncrypt(key, '我是中文abcd123', 'wxb11529c136998cb6', new TextEncoder().encode('aaaabbbbccccdddd'));
    expect(ct).toBe('jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==');
    expect(await wecomDecrypt(key, ct)).toEqual({ message: '我是中文abcd123', receiveId: 'wxb11529c136998cb6' });
  });

  it('round-trips messages whose padding is 1 to 32 bytes', async () => {
    for (let n = 0; n < 40; n++) {
      const msg = 'x'.repeat(n) + '中';
      expect((await wecomDecrypt(AES_KEY, await wecomEncrypt(AES_KEY, msg, CORP))).message).toBe(msg);
    }
  });

  it('refuses a ciphertext under another key', async () => {
    const ct = await wecomEncrypt('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'hello', CORP);
    await expect(wecomDecrypt(AES_KEY, ct)).rejects.toThrow();
  });
});

describe('WeCom XML reader', () => {
  it('reads text, CDATA, entities and one-level lists', () => {
    expect(
      parseFlatXml(
        '<?xml version="1.0"?>\n<xml>\n <A><![CDATA[x<y]]></A><B>1 &amp; 2 &#20013;</B><L><Item>a</Item> <Item><![CDATA[b]]></Item></L><E></E></xml>',
      ),
    ).toEqual({
      A: 'x<y',
      B: '1 & 2 中',
      L: ['a', 'b'],
      E: '',
    });
  });

  it.each([
    ['<!DOCTYPE x [<!ENTITY e "boom">]><xml><A>&e;</A></xml>', /DOCTYPE/],
    ['<xml><A id="1">x</A></xml>', /attributes/],
    ['<xml><A>x</A><A>y</A></xml>', /twice/],
    ['<xml><A><B><C>x</C></B></A></xml>', /too deep/],
    ['<xml><A>x</B></xml>', /closes/],
    ['<root><A>x</A></root>', /root element/],
    ['<xml><A>&foo;</A></xml>', /unknown entity/],
    ['<xml><A>x</A></xml>trailing', /after <\/xml>/],
    ['<xml><A>x</A>', /expected/],
  ])('refuses %s', (doc, message) => {
    expect(() => parseFlatXml(doc)).toThrow(message);
  });
});

describe('WeCom callback endpoint', () => {
  it('answers URL verification with the decrypted echostr', async () => {
    const echostr = await wecomEncrypt(AES_KEY, '1616140317555161061', CORP);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const r = await call('GET', 'corp', {
      msg_signature: await sha1Sig(TOKEN, timestamp, '263014780', echostr),
      timestamp,
      nonce: '263014780',
      echostr,
    });
    expect(r).toMatchObject({ status: 200, text: '1616140317555161061' });
  });

  it('refuses URL verification with a wrong msg_signature or a missing parameter', async () => {
    const echostr = await wecomEncrypt(AES_KEY, '123', CORP);
    const bad = await call('GET', 'corp', { msg_signature: 'a'.repeat(40), timestamp: '1', nonce: '2', echostr });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.text).error.code).toBe('invalid_signature');
    const missing = await call('GET', 'corp', { timestamp: '1', nonce: '2', echostr });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text).error.details[0].path).toBe('msg_signature');
  });

  it('stores a new customer from add_external_contact, with State as the QR channel, and acknowledges the retry', async () => {
    const doc = contactEvent(
      'add_external_contact',
      'wmQR001',
      '<State><![CDATA[门店海报A]]></State><WelcomeCode><![CDATA[WC]]></WelcomeCode>',
    );
    const r = await deliver(doc);
    expect(r).toMatchObject({ status: 200, text: 'success' });
    // `success` means queued: the consumer stores the customer shortly after
    const c = await eventually('wmQR001 stored', () =>
      env.DB.prepare(`SELECT * FROM contacts WHERE external_id = 'wmQR001'`).first<Record<string, unknown>>(),
    );
    expect(c).toMatchObject({ kind: 'wecom_customer', source_channel: '门店海报A', last_active_at: T * 1000 });
    const evs = await env.DB.prepare(`SELECT type, channel, occurred_at, source_id FROM events WHERE contact_id = ? ORDER BY type`)
      .bind(c?.id)
      .all();
    expect(evs.results).toEqual([
      { type: 'friend_add', channel: '门店海报A', occurred_at: T * 1000, source_id: 'corp' },
      { type: 'qr_scan', channel: '门店海报A', occurred_at: T * 1000, source_id: 'corp' },
    ]);
    // WeCom retries (new nonce, new encryption, same event): acknowledged, nothing added.
    expect(await deliver(doc)).toMatchObject({ status: 200, text: 'success' });
    // a later callback, stored once the queue (in order, locally) has consumed the retry before it
    await deliver(contactEvent('del_external_contact', 'wmQRmark'));
    await eventually('the later callback stored', () => env.DB.prepare(`SELECT id FROM contacts WHERE external_id = 'wmQRmark'`).first());
    const n = await env.DB.prepare(`SELECT COUNT(*) AS n FROM events WHERE contact_id = ?`).bind(c?.id).first<{ n: number }>();
    expect(n?.n).toBe(2);
  });

  it('maps del_external_contact to friend_delete', async () => {
    await deliver(contactEvent('del_external_contact', 'wmDEL1'));
    const e = await eventually('wmDEL1 stored', async () => {
      const { results } = await env.DB.prepare(
        `SELECT e.type FROM events e JOIN contacts c ON c.id = e.contact_id WHERE c.external_id = 'wmDEL1'`,
      ).all();
      return results.length ? results : null;
    });
    expect(e).toEqual([{ type: 'friend_delete' }]);
  });

  it('maps change_external_chat member joins and leaves to group events, one per member', async () => {
    const chat = (detail: string, members: string[]) =>
      `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><CreateTime>${T}</CreateTime><MsgType><![CDATA[event]]></MsgType>` +
      `<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wrCHAT1]]></ChatId><ChangeType><![CDATA[update]]></ChangeType>` +
      `<UpdateDetail><![CDATA[${detail}]]></UpdateDetail><JoinScene>1</JoinScene><QuitScene>0</QuitScene><MemChangeCnt>${members.length}</MemChangeCnt>` +
      `<MemChangeList>${members.map((m) => `<Item><![CDATA[${m}]]></Item>`).join('')}</MemChangeList><LastMemVer>a</LastMemVer><CurMemVer>b</CurMemVer></xml>`;
    const rows = async (n: number) => {
      const { results } = await env.DB.prepare(
        `SELECT c.external_id AS who, c.kind AS kind, e.type AS type, e.group_id AS chat FROM events e JOIN contacts c ON c.id = e.contact_id WHERE e.group_id = 'wrCHAT1' ORDER BY e.id`,
      ).all();
      return results.length >= n ? results : null;
    };
    expect((await deliver(chat('add_member', ['wmM1', 'wmM2']))).text).toBe('success');
    await eventually('the joins stored', () => rows(2));
    expect((await deliver(chat('del_member', ['wmM1']))).text).toBe('success');
    expect(await eventually('the leave stored', () => rows(3))).toEqual([
      { who: 'wmM1', kind: 'group_member', type: 'group_join', chat: 'wrCHAT1' },
      { who: 'wmM2', kind: 'group_member', type: 'group_join', chat: 'wrCHAT1' },
      { who: 'wmM1', kind: 'group_member', type: 'group_leave', chat: 'wrCHAT1' },
    ]);
  });

  it('refuses a callback with a wrong msg_signature, for another corp, or that is not XML', async () => {
    const tampered = await deliver(contactEvent('add_external_contact', 'wmBAD1'), { tamper: true });
    expect(tampered.status).toBe(401);
    const otherCorp = await deliver(contactEvent('add_external_contact', 'wmBAD2'), { receiveId: 'ww_other' });
    expect(otherCorp.status).toBe(400);
    expect(JSON.parse(otherCorp.text).error.message).toContain('ww_other');
    const notXml = await call('POST', 'corp', { msg_signature: 'x', timestamp: '1', nonce: '1' }, '{"json": true}');
    expect(notXml.status).toBe(400);
    const unknown = await deliver(contactEvent('add_external_contact', 'wmBAD3'), { source: 'nope' });
    expect(unknown.status).toBe(404);
    const n = await env.DB.prepare(`SELECT COUNT(*) AS n FROM contacts WHERE external_id LIKE 'wmBAD%'`).first<{ n: number }>();
    expect(n?.n).toBe(0);
  });
});

describe('every WeCom callback is answered success', () => {
  const T0 = String(T);
  // Messages and app events: sent by corp members to the self-built app, or about the directory. Nothing a rule uses.
  it.each([
    ['text', doc('text', `${cdata({ Content: '你好' })}<MsgId>1234567890123456</MsgId><AgentID>1</AgentID>`)],
    ['image', doc('image', `${cdata({ PicUrl: 'http://x/p.jpg', MediaId: 'm1' })}<MsgId>2</MsgId><AgentID>1</AgentID>`)],
    ['voice', doc('voice', `${cdata({ MediaId: 'm2', Format: 'amr' })}<MsgId>3</MsgId><AgentID>1</AgentID>`)],
    ['video', doc('video', `${cdata({ MediaId: 'm3', ThumbMediaId: 't3' })}<MsgId>4</MsgId><AgentID>1</AgentID>`)],
    [
      'location',
      doc(
        'location',
        `<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale>${cdata({ Label: '广州' })}<MsgId>5</MsgId><AgentID>1</AgentID>`,
      ),
    ],
    [
      'link',
      doc('link', `${cdata({ Title: 't', Description: 'd', Url: 'http://x', PicUrl: 'http://x/p' })}<MsgId>6</MsgId><AgentID>1</AgentID>`),
    ],
    ['subscribe', doc('event', `${cdata({ Event: 'subscribe' })}<AgentID>1</AgentID>`)],
    ['enter_agent', doc('event', `${cdata({ Event: 'enter_agent', EventKey: '' })}<AgentID>1</AgentID>`)],
    ['click', doc('event', `${cdata({ Event: 'click', EventKey: 'MENU_1' })}<AgentID>1</AgentID>`)],
    ['view', doc('event', `${cdata({ Event: 'view', EventKey: 'http://x' })}<AgentID>1</AgentID>`)],
    ['change_contact', doc('event', cdata({ Event: 'change_contact', ChangeType: 'update_user', UserID: 'zhangsan' }))],
  ])('a %s callback: success, ignored, nothing stored', async (kind, inner) => {
    const before = await countEvents();
    const r = await deliver(inner);
    expect(r).toMatchObject({ status: 200, text: 'success' });
    expect(r.outcome).toMatch(new RegExp(`/${kind}; ignored$`));
    // a later add is stored: the ignored callback put nothing on the queue before it
    const ext = `wmAfter-${kind}`;
    await deliver(contactEvent('add_external_contact', ext));
    await eventually(`${ext} stored`, () => env.DB.prepare('SELECT id FROM contacts WHERE external_id = ?').bind(ext).first());
    expect(await countEvents()).toBe(before + 1);
  });

  it('maps each 客户联系 change to its events and a contact sync hint', async () => {
    const cases = [
      ['add_external_contact', ['friend_add']],
      ['add_half_external_contact', ['friend_add']],
      ['edit_external_contact', []],
      ['del_external_contact', ['friend_delete']],
      ['del_follow_user', ['friend_delete']],
      ['transfer_fail', []],
    ] as const;
    for (const [change, types] of cases) {
      const extra = change === 'transfer_fail' ? cdata({ FailReason: 'customer_refused' }) : '';
      const m = mapWecomCallback(parseFlatXml(contactEvent(change, 'wmK1', extra)));
      expect(
        m.events.map((e) => e.type),
        change,
      ).toEqual(types);
      expect(m.hints, change).toEqual([
        {
          kind: 'contact',
          id: `wecom:contact:${change}:zhangsan:wmK1:${T0}:hint`,
          userId: 'zhangsan',
          externalUserId: 'wmK1',
          changeType: change,
          ...(change === 'transfer_fail' ? { failReason: 'customer_refused' } : {}),
        },
      ]);
      // the ids a retry maps to are the ones it mapped to before
      expect(mapWecomCallback(parseFlatXml(contactEvent(change, 'wmK1', extra)))).toEqual(m);
    }
    // through the endpoint: answered success, events stored or not as mapped
    for (const [change, types] of cases) {
      const ext = `wmK-${change}`;
      const r = await deliver(contactEvent(change, ext, change === 'transfer_fail' ? cdata({ FailReason: 'customer_limit_exceed' }) : ''));
      expect(r).toMatchObject({
        status: 200,
        text: 'success',
        outcome: `event/change_external_contact/${change}; events=${types.length}; hints=1`,
      });
    }
    await deliver(contactEvent('add_external_contact', 'wmK-mark'));
    await eventually('the marker stored', () => env.DB.prepare(`SELECT id FROM contacts WHERE external_id = 'wmK-mark'`).first());
    const { results } = await env.DB.prepare(
      `SELECT c.external_id AS ext, e.type FROM events e JOIN contacts c ON c.id = e.contact_id WHERE c.external_id LIKE 'wmK-%' AND c.external_id != 'wmK-mark' ORDER BY c.external_id, e.type`,
    ).all();
    expect(results).toEqual([
      { ext: 'wmK-add_external_contact', type: 'friend_add' },
      { ext: 'wmK-add_half_external_contact', type: 'friend_add' },
      { ext: 'wmK-del_external_contact', type: 'friend_delete' },
      { ext: 'wmK-del_follow_user', type: 'friend_delete' },
    ]);
  });

  it('maps 客户群 changes: create, update (any detail) and dismiss give a chat hint; member joins and leaves also give events', () => {
    const chat = (changeType: string, fields = '') =>
      doc('event', `${cdata({ Event: 'change_external_chat', ChatId: 'wrC1', ChangeType: changeType })}${fields}`);
    const update = (detail: string, members: string[] = []) =>
      chat(
        'update',
        `${cdata({ UpdateDetail: detail })}<JoinScene>1</JoinScene><QuitScene>0</QuitScene><MemChangeCnt>${members.length}</MemChangeCnt>` +
          `<MemChangeList>${members.map((m) => `<Item><![CDATA[${m}]]></Item>`).join('')}</MemChangeList><LastMemVer>v1</LastMemVer><CurMemVer>v2</CurMemVer>`,
      );
    const hint = (changeType: string, detail?: string, ver = '') => ({
      kind: 'chat',
      id: `wecom:chat:wrC1:${changeType}:${detail ?? ''}:${T0}:${ver}:hint`,
      chatId: 'wrC1',
      changeType,
      ...(detail ? { updateDetail: detail } : {}),
    });
    expect(mapWecomCallback(parseFlatXml(chat('create')))).toEqual({
      kind: 'event/change_external_chat/create',
      events: [],
      hints: [hint('create')],
    });
    expect(mapWecomCallback(parseFlatXml(chat('dismiss'))).hints).toEqual([hint('dismiss')]);
    for (const detail of ['change_owner', 'change_name', 'change_notice']) {
      const m = mapWecomCallback(parseFlatXml(update(detail)));
      expect(m).toEqual({ kind: `event/change_external_chat/update/${detail}`, events: [], hints: [hint('update', detail, 'v2')] });
    }
    const joined = mapWecomCallback(parseFlatXml(update('add_member', ['wmA', 'wmB'])));
    expect(joined.hints).toEqual([hint('update', 'add_member', 'v2')]);
    expect(joined.events.map((e) => [e.id, e.type, e.contact.externalId, e.groupId])).toEqual([
      [`wecom:chat:wrC1:add_member:wmA:${T0}:v2`, 'group_join', 'wmA', 'wrC1'],
      [`wecom:chat:wrC1:add_member:wmB:${T0}:v2`, 'group_join', 'wmB', 'wrC1'],
    ]);
    expect(mapWecomCallback(parseFlatXml(update('del_member', ['wmA']))).events.map((e) => e.type)).toEqual(['group_leave']);
  });

  it('maps 企业客户标签 changes (create, update, delete, shuffle) to tag library hints, storing nothing', async () => {
    const tag = (changeType: string, fields: Record<string, string>, strategy = '') =>
      doc('event', `${cdata({ Event: 'change_external_tag', ...fields, ChangeType: changeType })}${strategy}`);
    const cases = [
      [tag('create', { Id: 'etT1', TagType: 'tag' }), { tagId: 'etT1', tagType: 'tag', changeType: 'create' }],
      [tag('update', { Id: 'etG1', TagType: 'tag_group' }), { tagId: 'etG1', tagType: 'tag_group', changeType: 'update' }],
      [
        tag('delete', { Id: 'etT2', TagType: 'tag' }, '<StrategyId>7</StrategyId>'),
        { tagId: 'etT2', tagType: 'tag', changeType: 'delete', strategyId: '7' },
      ],
      // one group's tags reordered: WeCom names the group, without a TagType
      [tag('shuffle', { Id: 'etG2' }), { tagId: 'etG2', tagType: 'tag_group', changeType: 'shuffle' }],
      // every group reordered: no Id either
      [tag('shuffle', {}), { tagId: null, tagType: null, changeType: 'shuffle' }],
    ] as const;
    const before = await countEvents();
    for (const [inner, expected] of cases) {
      const m = mapWecomCallback(parseFlatXml(inner));
      expect(m.events).toEqual([]);
      expect(m.hints).toEqual([{ kind: 'tag_library', id: expect.stringMatching(/^wecom:tag:/), ...expected }]);
      const r = await deliver(inner);
      expect(r).toMatchObject({
        status: 200,
        text: 'success',
        outcome: `event/change_external_tag/${expected.changeType}; events=0; hints=1`,
      });
    }
    const ids = cases.map(([inner]) => mapWecomCallback(parseFlatXml(inner)).hints[0]!.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(await countEvents()).toBe(before);
  });

  it('keeps an authentic callback it cannot read as one dead letter, and answers success to it and to its retries', async () => {
    const noExternal = doc('event', cdata({ Event: 'change_external_contact', ChangeType: 'add_external_contact', UserID: 'zhangsan' }));
    const notXml = 'this is not <xml';
    for (const inner of [noExternal, noExternal, notXml, notXml]) {
      const r = await deliver(inner);
      expect(r).toMatchObject({ status: 200, text: 'success', outcome: 'unreadable; kept as a dead letter' });
    }
    const { results } = await env.DB.prepare(
      `SELECT source_id, event_ids, reason FROM intake_dead_letters WHERE message_id LIKE 'wecom-unreadable:corp:%' ORDER BY id`,
    ).all<any>();
    expect(results.map((r) => [r.source_id, r.event_ids])).toEqual([
      ['corp', '[]'],
      ['corp', '[]'],
    ]);
    expect(results[0].reason).toContain('<ExternalUserID>');
    expect(results[1].reason).toContain('could not be read');
  });
});

describe('WeCom timestamp window', () => {
  it('refuses URL verification and callbacks whose timestamp is outside the window, naming it', async () => {
    const old = String(Math.floor(Date.now() / 1000) - 301);
    const ahead = String(Math.floor(Date.now() / 1000) + 400);
    const echostr = await wecomEncrypt(AES_KEY, 'e', CORP);
    for (const timestamp of [old, ahead, '1409659589']) {
      const get = await call('GET', 'corp', {
        msg_signature: await sha1Sig(TOKEN, timestamp, 'n', echostr),
        timestamp,
        nonce: 'n',
        echostr,
      });
      expect(get.status).toBe(401);
      const body = JSON.parse(get.text);
      expect(body.error.details).toEqual([
        { path: 'timestamp', message: expect.stringMatching(/s away from the server clock; at most 300 s is accepted$/) },
      ]);
      const post = await deliver(contactEvent('add_external_contact', `wmOld${timestamp}`), { timestamp });
      expect(post.status).toBe(401);
      expect(JSON.parse(post.text).error.message).toContain('at most 300 s is accepted');
    }
    // inside the window, either way
    const justInside = String(Math.floor(Date.now() / 1000) - 290);
    expect((await deliver(contactEvent('del_external_contact', 'wmRecent'), { timestamp: justInside })).status).toBe(200);
    await eventually('wmRecent stored', () => env.DB.prepare(`SELECT id FROM contacts WHERE external_id = 'wmRecent'`).first());
    const n = await env.DB.prepare(`SELECT COUNT(*) AS n FROM contacts WHERE external_id LIKE 'wmOld%'`).first<{ n: number }>();
    expect(n?.n).toBe(0);
  });

  it('takes an identical replay inside the window as a duplicate: stored once', async () => {
    const { params, body } = await callback(contactEvent('del_follow_user', 'wmReplay'));
    for (let i = 0; i < 3; i++) expect((await call('POST', 'corp', params, body)).text).toBe('success');
    await deliver(contactEvent('del_external_contact', 'wmReplayMark'));
    await eventually('marker', () => env.DB.prepare(`SELECT id FROM contacts WHERE external_id = 'wmReplayMark'`).first());
    const n = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM events e JOIN contacts c ON c.id = e.contact_id WHERE c.external_id = 'wmReplay'`,
    ).first<{ n: number }>();
    expect(n?.n).toBe(1);
  });
});

/**
 * WeCom's published sample (加解密方案说明, 举例说明): Token QDG6eK, EncodingAESKey jWmY…B2C,
 * CorpID wx5823bf96d3bd56c7, a URL verification and an encrypted text message, signed in 2014.
 */
describe("WeCom's published callback sample, with the keys entered by hand", () => {
  const VERIFY = {
    msg_signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3',
    timestamp: '1409659589',
    nonce: '263014780',
    echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==',
  };
  const ENCRYPT =
    'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==';
  const MESSAGE = { msg_signature: '477715d11cdb4164915debcba66cb864d751f3e6', timestamp: '1409659813', nonce: '1372623149' };
  const POST_BODY = `<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[${ENCRYPT}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`;
  const PLAINTEXT =
    '<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n' +
    '<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n' +
    '<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>';

  beforeAll(async () => {
    const created = await api('/api/event-sources', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'wecom',
        id: 'wecom-sample',
        name: '官方示例',
        corpId: 'wx5823bf96d3bd56c7',
        token: 'QDG6eK',
        encodingAesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
      }),
    });
    expect(created.status).toBe(201);
    expect(created.body.wecom.entered).toBe(true);
  });
  afterEach(() => vi.useRealTimers());

  it('the documented values check out on their own: signatures and plaintexts', async () => {
    expect(await wecomSignature('QDG6eK', VERIFY.timestamp, VERIFY.nonce, VERIFY.echostr)).toBe(VERIFY.msg_signature);
    expect(await wecomSignature('QDG6eK', MESSAGE.timestamp, MESSAGE.nonce, ENCRYPT)).toBe(MESSAGE.msg_signature);
    expect(await wecomDecrypt('jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', ENCRYPT)).toEqual({
      message: PLAINTEXT,
      receiveId: 'wx5823bf96d3bd56c7',
    });
  });

  it('today the sample is refused: its 2014 timestamp is outside the window', async () => {
    const get = await call('GET', 'wecom-sample', VERIFY);
    expect(get.status).toBe(401);
    expect(JSON.parse(get.text).error.details[0]).toMatchObject({ path: 'timestamp' });
    const post = await call('POST', 'wecom-sample', MESSAGE, POST_BODY);
    expect(post.status).toBe(401);
    expect(JSON.parse(post.text).error.message).toContain('at most 300 s is accepted');
  });

  it('with the clock set to when WeCom signed it, the URL verification answers the echostr and the message is acknowledged', async () => {
    // Only Date is faked, and only in this test: the window itself is the production one.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Number(VERIFY.timestamp) * 1000 + 20_000);
    const get = await call('GET', 'wecom-sample', VERIFY);
    expect(get).toMatchObject({ status: 200, text: '1616140317555161061' });
    vi.setSystemTime(Number(MESSAGE.timestamp) * 1000 + 3_000);
    // a text message to the app (documented plaintext above): success, nothing stored
    const post = await call('POST', 'wecom-sample', MESSAGE, POST_BODY);
    expect(post).toMatchObject({ status: 200, text: 'success', outcome: 'msg/text; ignored' });
    // still signed by WeCom: a tampered signature is refused in 2014 too
    const tampered = await call('POST', 'wecom-sample', { ...MESSAGE, msg_signature: '0'.repeat(40) }, POST_BODY);
    expect(tampered.status).toBe(401);
    expect(JSON.parse(tampered.text).error.details[0].path).toBe('msg_signature');
  });
});
