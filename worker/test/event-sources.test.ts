import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, apiAs, untilStored, webhookSignature } from './fixtures';
import { SOURCE_CACHE_MS } from '../src/ingest/source-cache';
import { runScheduled } from '../src/cron/scheduled';
import { wecomEncrypt, wecomSignature } from '@shared/wecom/crypto';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** The signing scheme a sender implements, written out independently of the worker's code. */
const sign = webhookSignature;

let seq = 0;
/** Sends an event; once it is accepted (202), waits for the intake consumer to store it. */
async function sendEvent(sourceId: string, secret: string) {
  const id = `ev-${++seq}`;
  const body = JSON.stringify({
    id,
    type: 'message',
    occurredAt: Date.now() - 1000,
    contact: { externalId: `ext-${sourceId}` },
    text: 'hi',
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await exports.default.fetch(
    new Request(`http://segflow.test/api/webhooks/${sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Segflow-Timestamp': ts, 'X-Segflow-Signature': await sign(secret, ts, body) },
      body,
    }),
  );
  const text = await res.text();
  if (res.status === 202) await untilStored(sourceId, [id]);
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** WeCom's URL verification (GET echostr), signed and encrypted as WeCom's console does with the pair it holds. */
async function verifyUrl(sourceId: string, token: string, aesKey: string, corpId: string, plain: string) {
  const echo = await wecomEncrypt(aesKey, plain, corpId);
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = await wecomSignature(token, ts, 'n1', echo);
  const res = await exports.default.fetch(
    new Request(
      `http://segflow.test/api/webhooks/wecom/${sourceId}?msg_signature=${sig}&timestamp=${ts}&nonce=n1&echostr=${encodeURIComponent(echo)}`,
    ),
  );
  return { status: res.status, text: await res.text() };
}

const auditRows = (id: string) =>
  db.prepare("SELECT * FROM audit_log WHERE object_type = 'event_source' AND object_id = ? ORDER BY id").bind(id).all<any>();

describe('event sources', () => {
  it('creates a generic source and shows its secret once: it signs events; list, detail and audit never show it', async () => {
    const created = await api('/api/event-sources', json({ kind: 'generic', id: 'crm', name: 'CRM 系统' }));
    expect(created.status).toBe(201);
    const secret: string = created.body.secret;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(created.body.source).toMatchObject({
      id: 'crm',
      name: 'CRM 系统',
      kind: 'generic',
      webhookPath: '/api/webhooks/crm',
      revokedAt: null,
      createdBy: { id: 9001 },
      stats: { total: 0, last24h: 0, lastEventAt: null },
    });

    expect((await sendEvent('crm', secret)).status).toBe(202);
    expect((await sendEvent('crm', 'not-the-secret')).status).toBe(401);

    const list = await api('/api/event-sources');
    expect(list.status).toBe(200);
    const crm = list.body.find((s: any) => s.id === 'crm');
    expect(crm.stats.total).toBe(1);
    expect(crm.stats.last24h).toBe(1);
    expect(crm.stats.lastEventAt).toBeGreaterThan(0);
    const detail = await api('/api/event-sources/crm');
    const audits = await auditRows('crm');
    expect(audits.results.map((r) => r.action)).toEqual(['event_source.create']);
    for (const text of [JSON.stringify(list.body), JSON.stringify(detail.body), JSON.stringify(audits.results)])
      expect(text).not.toContain(secret);
  });

  it('creates a WeCom source: Token, EncodingAESKey and CorpID shown once, and they work for a real callback', async () => {
    const created = await api('/api/event-sources', json({ kind: 'wecom', id: 'corp-wx', name: '企业微信', corpId: 'ww1234567890' }));
    expect(created.status).toBe(201);
    const { token, encodingAesKey, corpId, entered } = created.body.wecom;
    expect(created.body.secret).toBeUndefined();
    expect(entered).toBe(false);
    expect(token).toMatch(/^[A-Za-z0-9]{32}$/);
    // as WeCom's console accepts it: letters and digits only, no "+" or "/"
    expect(encodingAesKey).toMatch(/^[A-Za-z0-9]{43}$/);
    expect(corpId).toBe('ww1234567890');
    expect(created.body.source).toMatchObject({ kind: 'wecom', corpId: 'ww1234567890', webhookPath: '/api/webhooks/wecom/corp-wx' });

    // WeCom's URL check: the echostr, encrypted and signed with what the screen showed, comes back decrypted
    expect(await verifyUrl('corp-wx', token, encodingAesKey, corpId, 'echo-123')).toEqual({ status: 200, text: 'echo-123' });

    const shown = JSON.stringify([(await api('/api/event-sources')).body, (await auditRows('corp-wx')).results]);
    expect(shown).not.toContain(token);
    expect(shown).not.toContain(encodingAesKey);
  });

  it('creates a WeCom source with the Token and EncodingAESKey entered as WeCom shows them, never shown in lists or audit', async () => {
    const keys = { token: 'moveMe2024', encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' };
    const created = await api(
      '/api/event-sources',
      json({ kind: 'wecom', id: 'moved', name: '搬来的回调', corpId: 'ww5823bf96d3bd56c7', ...keys }),
    );
    expect(created.status).toBe(201);
    expect(created.body.wecom).toEqual({ ...keys, corpId: 'ww5823bf96d3bd56c7', entered: true });
    expect(await verifyUrl('moved', keys.token, keys.encodingAesKey, 'ww5823bf96d3bd56c7', 'e1')).toEqual({ status: 200, text: 'e1' });
    const audit = (await auditRows('moved')).results[0];
    expect(JSON.parse(audit.after)).toMatchObject({ keysEntered: true });
    const shown = JSON.stringify([(await api('/api/event-sources')).body, (await api('/api/event-sources/moved')).body, audit]);
    expect(shown).not.toContain(keys.token);
    expect(shown).not.toContain(keys.encodingAesKey);
  });

  it.each([
    [{ token: 'has space', encodingAesKey: 'a'.repeat(43) }, 'token', '32 English letters or digits'],
    [{ token: 'x'.repeat(33), encodingAesKey: 'a'.repeat(43) }, 'token', '32 English letters or digits'],
    [{ token: 'ok', encodingAesKey: 'a'.repeat(42) }, 'encodingAesKey', 'exactly 43'],
    [{ token: 'ok', encodingAesKey: `${'a'.repeat(42)}+` }, 'encodingAesKey', 'exactly 43'],
    [{ token: 'ok' }, 'encodingAesKey', 'is required with a token'],
    [{ encodingAesKey: 'a'.repeat(43) }, 'token', 'is required with an encodingAesKey'],
    [{ corpId: 'corp one' }, 'corpId', 'CorpID'],
    [{ corpId: 'ab1234567890' }, 'corpId', 'CorpID'],
  ])('refuses hand-entered WeCom keys %j with a 400 naming %s', async (bad, path, words) => {
    const r = await api('/api/event-sources', json({ kind: 'wecom', id: 'bad-keys', name: 'x', corpId: 'ww1234567890', ...bad }));
    expect(r.status).toBe(400);
    expect(r.body.error.details).toContainEqual({ path, message: expect.stringContaining(words) });
    expect(await db.prepare("SELECT 1 FROM event_sources WHERE id = 'bad-keys'").first()).toBeNull();
  });

  it('rotates a WeCom source to a generated or a hand-entered pair; the previous pair verifies during the grace period', async () => {
    const created = await api('/api/event-sources', json({ kind: 'wecom', id: 'rot-wx', name: '轮换', corpId: 'ww1234567890' }));
    const first = created.body.wecom;
    const generated = await api('/api/event-sources/rot-wx/rotate', json({}));
    expect(generated.status).toBe(200);
    expect(generated.body.wecom).toMatchObject({ corpId: 'ww1234567890', entered: false });
    expect(generated.body.wecom.token).not.toBe(first.token);
    expect(generated.body.source.previousSecretExpiresAt).toBeGreaterThan(Date.now() + 23 * 3_600_000);

    const second = { token: 'Handentered42', encodingAesKey: 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut' };
    const entered = await api('/api/event-sources/rot-wx/rotate', json(second));
    expect(entered.status).toBe(200);
    expect(entered.body.wecom).toEqual({ ...second, corpId: 'ww1234567890', entered: true });
    // WeCom verifies the new pair when it is saved in its console; until then it still signs with the previous one
    expect(await verifyUrl('rot-wx', second.token, second.encodingAesKey, 'ww1234567890', 'new')).toEqual({ status: 200, text: 'new' });
    const prev = generated.body.wecom;
    expect(await verifyUrl('rot-wx', prev.token, prev.encodingAesKey, 'ww1234567890', 'old')).toEqual({ status: 200, text: 'old' });
    // the one before that is gone
    expect((await verifyUrl('rot-wx', first.token, first.encodingAesKey, 'ww1234567890', 'x')).status).toBe(401);
    // once the grace period ends, only the new pair
    await db
      .prepare("UPDATE event_sources SET previous_secret_expires_at = ? WHERE id = 'rot-wx'")
      .bind(Date.now() - 1)
      .run();
    expect((await verifyUrl('rot-wx', prev.token, prev.encodingAesKey, 'ww1234567890', 'x')).status).toBe(401);

    const audits = (await auditRows('rot-wx')).results;
    expect(audits.map((r) => r.action)).toEqual(['event_source.create', 'event_source.rotate', 'event_source.rotate']);
    for (const k of [first, prev, second]) expect(JSON.stringify(audits)).not.toContain(k.encodingAesKey);
    // a generic source takes no WeCom keys
    await api('/api/event-sources', json({ kind: 'generic', id: 'gen-rot', name: 'g' }));
    const wrongKind = await api('/api/event-sources/gen-rot/rotate', json(second));
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.body.error.details[0].path).toBe('token');
    const badKey = await api('/api/event-sources/rot-wx/rotate', json({ ...second, encodingAesKey: 'short' }));
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.details[0].path).toBe('encodingAesKey');
  });

  it('rotates: a new secret shown once; the old one verifies during the grace period and is refused after', async () => {
    const created = await api('/api/event-sources', json({ kind: 'generic', id: 'shop', name: '商城' }));
    const oldSecret: string = created.body.secret;
    expect((await sendEvent('shop', oldSecret)).status).toBe(202); // cached by the isolate

    const before = Date.now();
    const rotated = await api('/api/event-sources/shop/rotate', json({}));
    expect(rotated.status).toBe(200);
    const newSecret: string = rotated.body.secret;
    expect(newSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(newSecret).not.toBe(oldSecret);
    const expires = rotated.body.source.previousSecretExpiresAt;
    expect(expires).toBeGreaterThanOrEqual(before + 24 * 3_600_000);
    expect(expires).toBeLessThan(Date.now() + 24 * 3_600_000 + 1);

    // both verify during the grace period
    expect((await sendEvent('shop', newSecret)).status).toBe(202);
    expect((await sendEvent('shop', oldSecret)).status).toBe(202);
    expect((await sendEvent('shop', 'something-else')).status).toBe(401);

    const audit = (await auditRows('shop')).results.at(-1);
    expect(audit.action).toBe('event_source.rotate');
    expect(JSON.parse(audit.after).previousSecretExpiresAt).toBe(expires);
    for (const s of [oldSecret, newSecret]) {
      expect(JSON.stringify(audit)).not.toContain(s);
      expect(JSON.stringify((await api('/api/event-sources/shop')).body)).not.toContain(s);
    }

    // the grace period ends (moved straight in D1: this isolate sees it once its copy of the row expires)
    await db
      .prepare("UPDATE event_sources SET previous_secret_expires_at = ? WHERE id = 'shop'")
      .bind(Date.now() - 1)
      .run();
    await new Promise((r) => setTimeout(r, SOURCE_CACHE_MS));
    const late = await sendEvent('shop', oldSecret);
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe('invalid_signature');
    expect((await sendEvent('shop', newSecret)).status).toBe(202);
    expect((await api('/api/event-sources/shop')).body.previousSecretExpiresAt).toBeNull();
    expect((await db.prepare("SELECT COUNT(*) AS n FROM events WHERE source_id = 'shop'").first<{ n: number }>())?.n).toBe(4);
  });

  it('revokes: further events are refused with a 403 naming it, also with a secret in its grace period', async () => {
    const created = await api('/api/event-sources', json({ kind: 'generic', id: 'legacy', name: '旧系统' }));
    const first = created.body.secret;
    const second = (await api('/api/event-sources/legacy/rotate', json({}))).body.secret;
    expect((await sendEvent('legacy', second)).status).toBe(202);

    const revoked = await api('/api/event-sources/legacy/revoke', json({}));
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toBeGreaterThan(0);
    for (const secret of [first, second]) {
      const r = await sendEvent('legacy', secret);
      expect(r.status).toBe(403);
      expect(r.body.error.message).toContain('revoked');
    }
    expect((await api('/api/event-sources/legacy/revoke', json({}))).status).toBe(409);
    expect((await api('/api/event-sources/legacy/rotate', json({}))).status).toBe(409);
    expect((await auditRows('legacy')).results.map((r) => r.action)).toEqual([
      'event_source.create',
      'event_source.rotate',
      'event_source.revoke',
    ]);
    // revoked sources sort last
    const list = (await api('/api/event-sources')).body;
    expect(list.at(-1).id).toBe('legacy');
  });

  it('refuses bad input, a taken id and non-super-admins, writing nothing', async () => {
    const audits = async () => (await db.prepare('SELECT COUNT(*) AS n FROM audit_log').first<{ n: number }>())!.n;
    const n = await audits();
    for (const [body, path] of [
      [{ kind: 'generic', id: 'Bad Id!', name: 'x' }, 'id'],
      [{ kind: 'generic', id: 'ok-id', name: '' }, 'name'],
      [{ kind: 'wecom', id: 'wx2', name: 'x' }, 'corpId'],
      [{ kind: 'ftp', id: 'ftp', name: 'x' }, 'kind'],
      [{ kind: 'generic', id: 'ok-id', name: 'x', secret: 'mine' }, 'secret'],
    ] as const) {
      const r = await api('/api/event-sources', json(body));
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(r.body.error.details), JSON.stringify(body)).toContain(path);
    }
    const taken = await api('/api/event-sources', json({ kind: 'generic', id: 'crm', name: 'again' }));
    expect(taken.status).toBe(409);
    expect(taken.body.error.details[0].path).toBe('id');
    expect((await api('/api/event-sources/nope/rotate', json({}))).status).toBe(404);
    expect((await api('/api/event-sources/nope')).status).toBe(404);
    const admin = { id: 9200, role: 'dept_admin' as const, departmentId: null };
    expect((await apiAs(admin, '/api/event-sources')).status).toBe(403);
    expect((await apiAs(admin, '/api/event-sources', json({ kind: 'generic', id: 'mine', name: 'x' }))).status).toBe(403);
    expect((await apiAs(admin, '/api/event-sources/crm/revoke', json({}))).status).toBe(403);
    expect(await audits()).toBe(n);
  });
});

describe('source secrets at rest', () => {
  const stored = (id: string) =>
    db
      .prepare('SELECT secret, previous_secret, wecom_token, wecom_aes_key FROM event_sources WHERE id = ?')
      .bind(id)
      .first<{ secret: string; previous_secret: string | null; wecom_token: string | null; wecom_aes_key: string | null }>();
  /** Every secret column: null, or sealed (the `sf1:` prefix) and holding none of `clear` in any form we know. */
  const expectSealed = (row: Record<string, string | null> | null, clear: string[]) => {
    expect(row).not.toBeNull();
    for (const [column, v] of Object.entries(row!)) {
      if (v === null) continue;
      expect(v, column).toMatch(/^sf1:[A-Za-z0-9+/=]+$/);
      for (const c of clear) expect(v, column).not.toContain(c);
    }
  };

  it('stores a generic secret, its rotated predecessor and a WeCom pair sealed; all still verify', async () => {
    const generic = await api('/api/event-sources', json({ kind: 'generic', id: 'sealed-g', name: '密封' }));
    const first: string = generic.body.secret;
    expectSealed(await stored('sealed-g'), [first]);
    expect((await sendEvent('sealed-g', first)).status).toBe(202);
    const rotated = await api('/api/event-sources/sealed-g/rotate', json({}));
    expectSealed(await stored('sealed-g'), [first, rotated.body.secret]);
    expect((await stored('sealed-g'))!.previous_secret).not.toBeNull();
    expect((await sendEvent('sealed-g', rotated.body.secret)).status).toBe(202);

    const pair = { token: 'SealedToken7', encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' };
    await api('/api/event-sources', json({ kind: 'wecom', id: 'sealed-w', name: '密封企微', corpId: 'ww5555555555', ...pair }));
    expectSealed(await stored('sealed-w'), [pair.token, pair.encodingAesKey]);
    expect(await verifyUrl('sealed-w', pair.token, pair.encodingAesKey, 'ww5555555555', 'ok')).toEqual({ status: 200, text: 'ok' });
    const next = { token: 'SealedToken8', encodingAesKey: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg' };
    await api('/api/event-sources/sealed-w/rotate', json(next));
    expectSealed(await stored('sealed-w'), [pair.token, pair.encodingAesKey, next.token, next.encodingAesKey]);
    // the previous pair (sealed as one value) still verifies during the grace period, the new one too
    expect(await verifyUrl('sealed-w', pair.token, pair.encodingAesKey, 'ww5555555555', 'old')).toEqual({ status: 200, text: 'old' });
    expect(await verifyUrl('sealed-w', next.token, next.encodingAesKey, 'ww5555555555', 'new')).toEqual({ status: 200, text: 'new' });
  });

  it('reads a source written before sealing as it is, and seals it on first use or by the cron, guarded against a concurrent change', async () => {
    const clear = 'f'.repeat(64);
    await db.batch([
      db
        .prepare(`INSERT INTO event_sources (id, name, kind, secret, created_at) VALUES ('legacy-a', 'a', 'generic', ?, ?)`)
        .bind(clear, Date.now()),
      db
        .prepare(`INSERT INTO event_sources (id, name, kind, secret, created_at) VALUES ('legacy-b', 'b', 'generic', ?, ?)`)
        .bind(clear, Date.now()),
    ]);
    // first use: the webhook verifies with the clear value and seals it in place
    expect((await sendEvent('legacy-a', clear)).status).toBe(202);
    expectSealed(await stored('legacy-a'), [clear]);
    // the cron seals what no webhook touched
    const report = await runScheduled(env, Date.now());
    expect(report.sealedSources).toBeGreaterThanOrEqual(1);
    expectSealed(await stored('legacy-b'), [clear]);
    expect((await db.prepare(`SELECT COUNT(*) AS n FROM event_sources WHERE secret NOT LIKE 'sf1:%'`).first<{ n: number }>())?.n).toBe(0);
    await new Promise((r) => setTimeout(r, SOURCE_CACHE_MS));
    expect((await sendEvent('legacy-b', clear)).status).toBe(202);
    expect((await runScheduled(env, Date.now())).sealedSources).toBe(0);
  });
});
