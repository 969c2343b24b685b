import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, apiAs, untilStored, webhookSignature } from './fixtures';
import { SOURCE_CACHE_MS } from '../src/ingest/source-cache';
import { wecomDecrypt, wecomEncrypt, wecomSignature } from '@shared/wecom/crypto';

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
    const { token, encodingAesKey, corpId } = created.body.wecom;
    expect(created.body.secret).toBeUndefined();
    expect(token).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(encodingAesKey).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(corpId).toBe('ww1234567890');
    expect(created.body.source).toMatchObject({ kind: 'wecom', corpId: 'ww1234567890', webhookPath: '/api/webhooks/wecom/corp-wx' });

    // WeCom's URL check: the echostr, encrypted and signed with what the screen showed, comes back decrypted
    const echo = await wecomEncrypt(encodingAesKey, 'echo-123', corpId);
    expect((await wecomDecrypt(encodingAesKey, echo)).message).toBe('echo-123');
    const ts = '1700000000';
    const sig = await wecomSignature(token, ts, 'n1', echo);
    const res = await exports.default.fetch(
      new Request(
        `http://segflow.test/api/webhooks/wecom/corp-wx?msg_signature=${sig}&timestamp=${ts}&nonce=n1&echostr=${encodeURIComponent(echo)}`,
      ),
    );
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('echo-123');

    const shown = JSON.stringify([(await api('/api/event-sources')).body, (await auditRows('corp-wx')).results]);
    expect(shown).not.toContain(token);
    expect(shown).not.toContain(encodingAesKey);
    // WeCom sources are rotated by replacing them
    const rotate = await api('/api/event-sources/corp-wx/rotate', json({}));
    expect(rotate.status).toBe(409);
    expect(rotate.body.error.message).toContain('WeCom');
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
