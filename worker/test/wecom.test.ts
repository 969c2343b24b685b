import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { wecomDecrypt, wecomEncrypt } from '@shared/wecom/crypto';
import { parseFlatXml } from '@shared/wecom/xml';
import { eventually } from './fixtures';

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
  return { status: res.status, text: await res.text() };
}

/** Encrypts a callback as WeCom would and posts it. */
async function deliver(inner: string, opts: { receiveId?: string; source?: string; tamper?: boolean } = {}) {
  const encrypted = await wecomEncrypt(AES_KEY, inner, opts.receiveId ?? CORP);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(Math.floor(Math.random() * 1e9));
  const sig = await sha1Sig(TOKEN, timestamp, nonce, encrypted);
  const body = `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`;
  return call(
    'POST',
    opts.source ?? 'corp',
    { msg_signature: opts.tamper ? sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) : sig, timestamp, nonce },
    body,
  );
}

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
    expect(r).toEqual({ status: 200, text: '1616140317555161061' });
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
    expect(r).toEqual({ status: 200, text: 'success' });
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
    expect(await deliver(doc)).toEqual({ status: 200, text: 'success' });
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

  it('acknowledges change_external_tag without storing an event', async () => {
    const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM events').first<{ n: number }>();
    const doc = `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><CreateTime>${T}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_tag]]></Event><Id><![CDATA[etTAG]]></Id><TagType><![CDATA[tag]]></TagType><ChangeType><![CDATA[create]]></ChangeType></xml>`;
    expect(await deliver(doc)).toEqual({ status: 200, text: 'success' });
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM events').first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
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
