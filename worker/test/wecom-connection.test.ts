/**
 * Connecting a WeCom corp and calling WeCom through the worker's client, against the local WeCom
 * simulator (tools/wecom-sim at http://wecom.test): the real app over HTTP, the real D1 with the
 * real migrations, the real token cache and client. Each test seeds its own corp in the shared
 * simulator, so counts of gettoken calls are this test's own.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, seedSmallWorld, type TestUser } from './fixtures';
import { fieldKeys, openField, sealField } from '../src/crypto/fields';
import { WecomClient } from '../src/wecom/client';
import { WecomApiError, WecomRateLimitedError, WecomUnreachableError } from '../src/wecom/errors';
import { accessToken, forgetWecomTokens } from '../src/wecom/token-cache';
import type { WecomConnectionSummary, WecomConnectionTestResult } from '@shared/api/wecom';

const db = env.DB;
const DEPT_ADMIN: TestUser = { id: 9611, role: 'dept_admin', departmentId: 2 };
const STAFF: TestUser = { id: 9612, role: 'staff', departmentId: 2 };

const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

// ---- the simulator's admin API (/__sim/), not WeCom's ----
async function sim<T = any>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(
    `http://wecom.test/__sim${path}`,
    body === undefined ? undefined : { method: 'POST', body: JSON.stringify(body) },
  );
  expect(res.status, `sim ${path}`).toBe(200);
  return res.json() as Promise<T>;
}
let seq = 0;
/** A corp of its own in the simulator, with known secrets. */
async function seedCorp() {
  const corpid = `wwconn${Date.now().toString(36)}${++seq}`;
  const secrets = { contact: `${corpid}-contact-secret`, agent: `${corpid}-agent-secret` };
  await sim('/seed', {
    corpid,
    seed: corpid,
    followUsers: 1,
    contacts: 2,
    chats: 0,
    contactSecret: secrets.contact,
    agentid: 1000002,
    agentSecret: secrets.agent,
  });
  return { corpid, secrets };
}
/** This corp's frequency limits and latency in the simulator. */
async function putLimits(corpid: string, limits: Record<string, unknown>) {
  const res = await fetch(`http://wecom.test/__sim/corps/${corpid}/limits`, { method: 'PUT', body: JSON.stringify(limits) });
  expect(res.status).toBe(200);
}
const calls = async (corpid: string): Promise<Record<string, number>> => sim(`/corps/${corpid}/calls`);

async function connect(body: Record<string, unknown>): Promise<WecomConnectionSummary> {
  const res = await api<WecomConnectionSummary>('/api/wecom/connections', json(body));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}
const rawRow = (id: number) => db.prepare('SELECT * FROM wecom_connections WHERE id = ?').bind(id).first<Record<string, unknown>>();
const tokenRow = (id: number, app = 'contact') =>
  db.prepare('SELECT * FROM wecom_tokens WHERE connection_id = ? AND app = ?').bind(id, app).first<Record<string, unknown>>();
const auditOf = (id: number) =>
  db
    .prepare(
      "SELECT action, params, before, after, summary FROM audit_log WHERE object_type = 'wecom_connection' AND object_id = ? ORDER BY id",
    )
    .bind(String(id))
    .all<{ action: string; params: string; before: string | null; after: string | null; summary: string }>()
    .then((r) => r.results);
const open = async (sealed: unknown) => openField(await fieldKeys(env), String(sealed));
const TAG_LIST = '/cgi-bin/externalcontact/get_corp_tag_list';

beforeAll(async () => {
  await seedSmallWorld();
});

describe('connecting a corp', () => {
  it('keeps the secrets sealed with the field key and answers only "set", in every response', async () => {
    const { corpid, secrets } = await seedCorp();
    const created = await connect({ corpId: corpid, contactSecret: secrets.contact, agentId: 1000002, agentSecret: secrets.agent });
    expect(created).toMatchObject({
      corpId: corpid,
      agentId: 1000002,
      state: 'not_tested',
      eventSource: null,
      secrets: { contact: { set: true, lastTest: null, token: null }, agent: { set: true, lastTest: null, token: null } },
    });
    expect(created.secrets.contact.changedAt).toBeGreaterThan(0);

    const list = await api('/api/wecom/connections');
    const one = await api(`/api/wecom/connections/${created.id}`);
    for (const body of [created, list.body, one.body]) {
      const text = JSON.stringify(body);
      expect(text).not.toContain(secrets.contact);
      expect(text).not.toContain(secrets.agent);
    }
    expect(list.body.items.map((c: WecomConnectionSummary) => c.corpId)).toContain(corpid);

    // at rest: neither secret in clear, each one AES-GCM sealed with FIELD_KEY
    const row = (await rawRow(created.id))!;
    expect(JSON.stringify(row)).not.toContain(secrets.contact);
    expect(JSON.stringify(row)).not.toContain(secrets.agent);
    expect(await open(row.contact_secret_enc)).toBe(secrets.contact);
    expect(await open(row.agent_secret_enc)).toBe(secrets.agent);

    // audited, without the secrets
    const entries = await auditOf(created.id);
    expect(entries.map((e) => e.action)).toEqual(['wecom_connection.create']);
    expect(JSON.parse(entries[0]!.params)).toEqual({ corpId: corpid });
    expect(JSON.parse(entries[0]!.after!)).toMatchObject({ contactSecret: 'set', agentSecret: 'set', agentId: 1000002 });
    expect(JSON.stringify(entries)).not.toContain(secrets.contact);
  });

  it('replaces a secret: the new one sealed, its last test and its cached token dropped, audited without values', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: `${corpid}-old-secret-x` });
    // a test and a cached token for the old secret
    await api(`/api/wecom/connections/${c.id}/test`, json({}));
    await db
      .prepare(
        `INSERT INTO wecom_tokens (connection_id, app, token_enc, stale_at, expires_at, refreshed_at, version) VALUES (?, 'contact', ?, ?, ?, ?, 1)`,
      )
      .bind(c.id, await sealField(await fieldKeys(env), 'old-token'), Date.now() + 3_600_000, Date.now() + 3_900_000, Date.now())
      .run();

    const res = await api<WecomConnectionSummary>(`/api/wecom/connections/${c.id}`, json({ contactSecret: secrets.contact }, 'PATCH'));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(JSON.stringify(res.body)).not.toContain(secrets.contact);
    expect(res.body.secrets.contact).toMatchObject({ set: true, lastTest: null, token: null });
    expect(res.body.state).toBe('not_tested');
    expect(await open((await rawRow(c.id))!.contact_secret_enc)).toBe(secrets.contact);
    expect(await tokenRow(c.id)).toBeNull();

    // the client now gets a token of the new secret from WeCom, not the dropped one
    forgetWecomTokens();
    const tags = await new WecomClient(env, c.id, 'contact').post(TAG_LIST, {});
    expect(tags.errcode).toBe(0);

    // an agent secret needs an agent id; clearing it needs none
    const noAgent = await api(`/api/wecom/connections/${c.id}`, json({ agentSecret: secrets.agent }, 'PATCH'));
    expect(noAgent.status).toBe(400);
    expect(noAgent.body.error.details).toEqual([expect.objectContaining({ path: 'agentId' })]);
    const withAgent = await api(`/api/wecom/connections/${c.id}`, json({ agentId: 1000002, agentSecret: secrets.agent }, 'PATCH'));
    expect(withAgent.body.secrets.agent.set).toBe(true);
    const cleared = await api(`/api/wecom/connections/${c.id}`, json({ agentSecret: null }, 'PATCH'));
    expect(cleared.body.secrets.agent).toMatchObject({ set: false, lastTest: null });
    expect((await rawRow(c.id))!.agent_secret_enc).toBeNull();

    const entries = await auditOf(c.id);
    expect(entries.map((e) => e.action)).toEqual([
      'wecom_connection.create',
      'wecom_connection.test',
      'wecom_connection.update',
      'wecom_connection.update',
      'wecom_connection.update',
    ]);
    expect(JSON.parse(entries[2]!.params)).toEqual({ corpId: corpid, changed: 'contactSecret' });
    expect(JSON.stringify(entries)).not.toContain(secrets.contact);
    expect(JSON.stringify(entries)).not.toContain(secrets.agent);
  });

  it('links a WeCom event source of the same corp, and refuses any other', async () => {
    const { corpid, secrets } = await seedCorp();
    const mk = (body: Record<string, unknown>) => api('/api/event-sources', json(body));
    expect((await mk({ kind: 'wecom', id: `${corpid}-cb`, name: '企微回调', corpId: corpid })).status).toBe(201);
    expect((await mk({ kind: 'wecom', id: `${corpid}-other`, name: '别家', corpId: 'wwsomeoneelse' })).status).toBe(201);
    expect((await mk({ kind: 'generic', id: `${corpid}-gen`, name: '通用' })).status).toBe(201);

    const c = await connect({ corpId: corpid, contactSecret: secrets.contact, eventSourceId: `${corpid}-cb` });
    expect(c.eventSource).toMatchObject({ id: `${corpid}-cb`, name: '企微回调', webhookPath: `/api/webhooks/wecom/${corpid}-cb` });
    for (const [id, code] of [
      [`${corpid}-other`, 'invalid_request'],
      [`${corpid}-gen`, 'invalid_request'],
      ['no-such-source', 'unknown_reference'],
    ] as const) {
      const res = await api(`/api/wecom/connections/${c.id}`, json({ eventSourceId: id }, 'PATCH'));
      expect(res.status, id).toBe(400);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'eventSourceId' })]);
    }
    const unlinked = await api(`/api/wecom/connections/${c.id}`, json({ eventSourceId: null }, 'PATCH'));
    expect(unlinked.body.eventSource).toBeNull();
  });

  it('allows one connection per corp id (409 naming corpId)', async () => {
    const { corpid, secrets } = await seedCorp();
    await connect({ corpId: corpid, contactSecret: secrets.contact });
    const again = await api('/api/wecom/connections', json({ corpId: corpid }));
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual([{ path: 'corpId', message: 'is already connected' }]);
  });

  it('refuses bad input with a 4xx naming the field, and unknown fields', async () => {
    const cases: [RequestInit, string][] = [
      [json({ corpId: '' }), 'corpId'],
      [json({ corpId: 'ww bad id' }), 'corpId'],
      [json({ corpId: 'wwok', contactSecret: 'short' }), 'contactSecret'],
      [json({ corpId: 'wwok', contactSecret: 'has spaces in the secret!!' }), 'contactSecret'],
      [json({ corpId: 'wwok', agentId: 0 }), 'agentId'],
      [json({ corpId: 'wwok', agentId: '1000002' }), 'agentId'],
      [json({ corpId: 'wwok', agentSecret: 'a-valid-looking-agent-secret' }), 'agentId'],
      [json({ corpId: 'wwok', secret: 'x' }), 'secret'],
      [json({ corpId: 'wwok', eventSourceId: 'no-such-source' }), 'eventSourceId'],
    ];
    for (const [init, path] of cases) {
      const res = await api('/api/wecom/connections', init);
      expect(res.status, `${init.body} → ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const empty = await api(`/api/wecom/connections/${c.id}`, json({}, 'PATCH'));
    expect(empty.status).toBe(400);
    expect(empty.body.error.details[0].path).toBe('body');
    const corpChange = await api(`/api/wecom/connections/${c.id}`, json({ corpId: 'wwother' }, 'PATCH'));
    expect(corpChange.status).toBe(400);
    expect(corpChange.body.error.details[0]).toEqual({ path: 'corpId', message: 'unknown field' });
    expect((await api('/api/wecom/connections/999999', json({ agentId: 1 }, 'PATCH'))).status).toBe(404);
    expect((await api('/api/wecom/connections/abc')).status).toBe(400);
    // nothing of that was written
    expect(await db.prepare("SELECT COUNT(*) AS n FROM wecom_connections WHERE corp_id = 'wwok'").first('n')).toBe(0);
  });

  it('is for super admins only: a department admin or staff gets 403 on every route', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    for (const user of [DEPT_ADMIN, STAFF]) {
      const tries: [string, RequestInit | undefined][] = [
        ['/api/wecom/connections', undefined],
        [`/api/wecom/connections/${c.id}`, undefined],
        ['/api/wecom/connections', json({ corpId: `${corpid}x` })],
        [`/api/wecom/connections/${c.id}`, json({ contactSecret: `${corpid}-stolen-secret` }, 'PATCH')],
        [`/api/wecom/connections/${c.id}/test`, json({})],
        [`/api/wecom/connections/${c.id}`, { method: 'DELETE' }],
      ];
      for (const [path, init] of tries)
        expect((await apiAs(user, path, init)).status, `${user.role} ${init?.method ?? 'GET'} ${path}`).toBe(403);
    }
    expect(await open((await rawRow(c.id))!.contact_secret_enc)).toBe(secrets.contact);
    expect((await auditOf(c.id)).map((e) => e.action)).toEqual(['wecom_connection.create']);
  });

  it('disconnects: the connection, its secrets and its cached tokens are deleted, audited', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    await new WecomClient(env, c.id, 'contact').post(TAG_LIST, {});
    expect(await tokenRow(c.id)).not.toBeNull();
    const res = await api(`/api/wecom/connections/${c.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await rawRow(c.id)).toBeNull();
    expect(await tokenRow(c.id)).toBeNull();
    expect((await auditOf(c.id)).map((e) => e.action)).toEqual(['wecom_connection.create', 'wecom_connection.delete']);
    expect((await api(`/api/wecom/connections/${c.id}`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('test connection', () => {
  it('calls gettoken with each secret and reports the errcode in words, in both languages', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact, agentId: 1000002, agentSecret: `${corpid}-wrong-secret` });
    const before = await calls(corpid);
    const res = await api<WecomConnectionTestResult>(`/api/wecom/connections/${c.id}/test`, json({}));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await calls(corpid)).gettoken).toBe((before.gettoken ?? 0) + 2);

    const { contact, agent } = res.body.results;
    expect(contact).toMatchObject({ errcode: 0, ok: true });
    expect(contact!.words['zh-CN']).toContain('Secret 可用');
    expect(contact!.words.en).toContain('The secret works');
    expect(agent).toMatchObject({ errcode: 40001, ok: false });
    expect(agent!.errmsg).toContain('invalid credential');
    expect(agent!.words['zh-CN']).toContain('不合法的 secret');
    expect(agent!.words.en).toContain('Invalid secret');
    expect(res.body.connection.state).toBe('credentials_wrong');
    expect(JSON.stringify(res.body)).not.toContain(secrets.contact);

    // kept: the screen shows them beside each secret
    const listed = (await api(`/api/wecom/connections/${c.id}`)).body as WecomConnectionSummary;
    expect(listed.secrets.agent.lastTest).toMatchObject({ errcode: 40001, ok: false });
    expect(listed.secrets.contact.lastTest).toMatchObject({ errcode: 0, ok: true });
    const entry = (await auditOf(c.id)).at(-1)!;
    expect(entry.action).toBe('wecom_connection.test');
    expect(JSON.parse(entry.params)).toEqual({ variant: 'failed', corpId: corpid, errcodes: 'agent: 40001' });

    // the right agent secret: not tested, then connected
    const fixed = await api(`/api/wecom/connections/${c.id}`, json({ agentSecret: secrets.agent }, 'PATCH'));
    expect(fixed.body.state).toBe('not_tested');
    const again = await api<WecomConnectionTestResult>(`/api/wecom/connections/${c.id}/test`, json({}));
    expect(again.body.results.agent).toMatchObject({ errcode: 0, ok: true });
    expect(again.body.connection.state).toBe('connected');
    expect(JSON.parse((await auditOf(c.id)).at(-1)!.params)).toEqual({ variant: 'ok', corpId: corpid });

    // the tokens the test got are the shared cache's: the first calls need no gettoken of their own
    expect(again.body.connection.secrets.contact.token).toEqual({ refreshedAt: expect.any(Number), expiresAt: expect.any(Number) });
    expect(again.body.connection.secrets.agent.token).not.toBeNull();
    const fetched = (await calls(corpid)).gettoken;
    forgetWecomTokens();
    expect((await new WecomClient(env, c.id, 'contact').post(TAG_LIST, {})).errcode).toBe(0);
    expect((await calls(corpid)).gettoken).toBe(fetched);
  });

  it('says so when the corp id is wrong (40013), and refuses a test with no secret (409)', async () => {
    const { secrets } = await seedCorp();
    const c = await connect({ corpId: `wwnotacorp${++seq}`, contactSecret: secrets.contact });
    const res = await api<WecomConnectionTestResult>(`/api/wecom/connections/${c.id}/test`, json({}));
    expect(res.body.results.contact).toMatchObject({ errcode: 40013, ok: false });
    expect(res.body.results.contact!.words['zh-CN']).toContain('CorpID');
    const bare = await connect({ corpId: `wwbare${++seq}` });
    expect(bare.state).toBe('incomplete');
    expect((await api(`/api/wecom/connections/${bare.id}/test`, json({}))).status).toBe(409);
  });
});

describe('access tokens', () => {
  it('are fetched once and shared through D1, sealed: two clients and a cold isolate memo make one gettoken', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const a = new WecomClient(env, c.id, 'contact');
    expect((await a.post(TAG_LIST, {})).errcode).toBe(0);
    // as another isolate would: nothing in memory, only the shared row
    forgetWecomTokens();
    const b = new WecomClient(env, c.id, 'contact');
    expect((await b.post(TAG_LIST, {})).errcode).toBe(0);
    expect((await b.post(TAG_LIST, {})).errcode).toBe(0);
    const n = await calls(corpid);
    expect(n.gettoken).toBe(1);
    expect(n['externalcontact/get_corp_tag_list']).toBe(3);

    const row = (await tokenRow(c.id))!;
    const token = await open(row.token_enc);
    expect(token.length).toBeGreaterThan(20);
    expect(String(row.token_enc)).not.toContain(token);
    expect(row).toMatchObject({ version: 1, lease_owner: null, lease_until: null });
    // cached until WeCom's expiry minus the margin
    expect(Number(row.expires_at) - Number(row.stale_at)).toBe(5 * 60_000);
    const shown = (await api(`/api/wecom/connections/${c.id}`)).body as WecomConnectionSummary;
    expect(shown.secrets.contact.token).toEqual({ refreshedAt: row.refreshed_at, expiresAt: row.expires_at });
    expect(JSON.stringify(shown)).not.toContain(token);
  });

  it('do not stampede: ten concurrent calls with no token make one gettoken', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    forgetWecomTokens();
    const answers = await Promise.all(Array.from({ length: 10 }, () => new WecomClient(env, c.id, 'contact').post(TAG_LIST, {})));
    expect(answers.every((x) => x.errcode === 0)).toBe(true);
    expect((await calls(corpid)).gettoken).toBe(1);
  });

  it('an expired token (42001, WeCom ended it before our clock did) is refreshed once and the call retried', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const client = new WecomClient(env, c.id, 'contact');
    await client.post(TAG_LIST, {});
    const first = (await tokenRow(c.id))!;
    // this corp's clock in WeCom is past the token's 7200 s; ours still thinks it valid
    await sim(`/corps/${corpid}/clock`, { advanceMs: 7_201_000 });
    const answer = await client.post(TAG_LIST, {});
    expect(answer.errcode).toBe(0);
    const n = await calls(corpid);
    expect(n.gettoken).toBe(2);
    expect(n['externalcontact/get_corp_tag_list']).toBe(3); // ok, refused 42001, retried ok
    const second = (await tokenRow(c.id))!;
    expect(second.version).toBe(2);
    expect(await open(second.token_enc)).not.toBe(await open(first.token_enc));
  });

  it('a token WeCom does not know (40014) is refreshed; a refusal of an older version does not refresh again', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const keys = await fieldKeys(env);
    // the shared row holds a token WeCom never issued (ended early on WeCom's side), valid by our clock
    await db
      .prepare(
        `INSERT INTO wecom_tokens (connection_id, app, token_enc, stale_at, expires_at, refreshed_at, version) VALUES (?, 'contact', ?, ?, ?, ?, 4)`,
      )
      .bind(c.id, await sealField(keys, 'a-token-wecom-never-issued'), Date.now() + 3_600_000, Date.now() + 3_900_000, Date.now())
      .run();
    forgetWecomTokens();
    const answer = await new WecomClient(env, c.id, 'contact').post(TAG_LIST, {});
    expect(answer.errcode).toBe(0);
    expect((await calls(corpid)).gettoken).toBe(1);
    const row = (await tokenRow(c.id))!;
    expect(row.version).toBe(5);

    // another isolate reporting version 4 refused gets version 5 from the row, no gettoken
    forgetWecomTokens();
    const t = await accessToken(env, c.id, 'contact', { refused: 4 });
    expect(t.version).toBe(5);
    expect((await calls(corpid)).gettoken).toBe(1);
  });

  it('a token WeCom ended early (40014 after revoke) is refreshed, the call retried', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const client = new WecomClient(env, c.id, 'contact');
    await client.post(TAG_LIST, {});
    await sim(`/corps/${corpid}/revoke-tokens`, {});
    expect((await client.post(TAG_LIST, {})).errcode).toBe(0);
    const n = await calls(corpid);
    expect(n.gettoken).toBe(2);
    // the refused call carried a token WeCom no longer knows, so it counts against no corp: 1 + the retry
    expect(n['externalcontact/get_corp_tag_list']).toBe(2);
  });

  it('refreshes only once per call: a token refused again is an error, not a loop', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const client = new WecomClient(env, c.id, 'contact');
    await client.post(TAG_LIST, {});
    await sim(`/corps/${corpid}/faults`, { api: 'externalcontact/get_corp_tag_list', errcode: 42001, count: 2 });
    const err = await client.post(TAG_LIST, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WecomApiError);
    expect((err as WecomApiError).errcode).toBe(42001);
    const n = await calls(corpid);
    expect(n.gettoken).toBe(2);
    expect(n['externalcontact/get_corp_tag_list']).toBe(3);
  });

  it('a secret WeCom refuses surfaces as a typed error with errcode and errmsg', async () => {
    const { corpid } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: `${corpid}-not-the-secret` });
    const err = await new WecomClient(env, c.id, 'contact').post(TAG_LIST, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WecomApiError);
    expect(err).not.toBeInstanceOf(WecomRateLimitedError);
    expect((err as WecomApiError).errcode).toBe(40001);
    expect((err as WecomApiError).path).toBe('/cgi-bin/gettoken');
    expect((err as Error).message).not.toContain(`${corpid}-not-the-secret`);
    // the failed refresh let go of its lease: the next call tries again at once
    expect(await tokenRow(c.id)).toMatchObject({ token_enc: null, lease_owner: null });
  });
});

describe('frequency limits', () => {
  it('backs off on 45009 and 45033 (exponential, with jitter) and then succeeds', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const client = new WecomClient(env, c.id, 'contact', { backoffBaseMs: 40, backoffMaxMs: 400 });
    await client.post(TAG_LIST, {});
    await sim(`/corps/${corpid}/faults`, { api: 'externalcontact/get_corp_tag_list', errcode: 45009, count: 2 });
    await sim(`/corps/${corpid}/faults`, { api: 'externalcontact/get_corp_tag_list', errcode: 45033, count: 1 });
    const started = Date.now();
    const answer = await client.post(TAG_LIST, {});
    const waited = Date.now() - started;
    expect(answer.errcode).toBe(0);
    expect(answer.tag_group).toBeDefined();
    // three waits of at least half of 40, 80 and 160 ms
    expect(waited).toBeGreaterThanOrEqual(140);
    const n = await calls(corpid);
    expect(n['externalcontact/get_corp_tag_list']).toBe(5);
    expect(n.gettoken).toBe(1); // a rate limit is not a token problem
  });

  it('reports a limit that holds upward, with when to try again, instead of sleeping inside the request', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const client = new WecomClient(env, c.id, 'contact', { backoffBaseMs: 20, backoffMaxMs: 100, rateLimitRetries: 2 });
    await client.post(TAG_LIST, {});
    await sim(`/corps/${corpid}/faults`, { api: 'externalcontact/get_corp_tag_list', errcode: 45009, durationMs: 600_000 });
    const started = Date.now();
    const err = await client.post(TAG_LIST, {}).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(WecomRateLimitedError);
    const limited = err as WecomRateLimitedError;
    expect(limited).toMatchObject({ errcode: 45009, attempts: 3, path: TAG_LIST });
    expect(limited.errmsg).toContain('api freq out of limit');
    expect(limited.retryAfterMs).toBeGreaterThanOrEqual(100);
    expect((await calls(corpid))['externalcontact/get_corp_tag_list']).toBe(4);
    await fetch(`http://wecom.test/__sim/corps/${corpid}/faults`, { method: 'DELETE' });
    expect((await client.post(TAG_LIST, {})).errcode).toBe(0);
  });

  it("meets WeCom's own per-minute limit (the simulator set to 2 a minute) and reports it upward", async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    await putLimits(corpid, { apis: { 'externalcontact/get_corp_tag_list': { perMinute: 2 } } });
    const client = new WecomClient(env, c.id, 'contact', { backoffBaseMs: 10, backoffMaxMs: 40, rateLimitRetries: 1 });
    expect((await client.post(TAG_LIST, {})).errcode).toBe(0);
    expect((await client.post(TAG_LIST, {})).errcode).toBe(0);
    const err = await client.post(TAG_LIST, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WecomRateLimitedError);
    expect((err as WecomRateLimitedError).errcode).toBe(45009);
  });
});

describe('timeouts', () => {
  it('gives up on a WeCom that does not answer in time, as WecomUnreachableError', async () => {
    const { corpid, secrets } = await seedCorp();
    const c = await connect({ corpId: corpid, contactSecret: secrets.contact });
    const client = new WecomClient(env, c.id, 'contact', { timeoutMs: 150 });
    await client.post(TAG_LIST, {});
    await putLimits(corpid, { latencyMs: 1_000 });
    const started = Date.now();
    const err = await client.post(TAG_LIST, {}).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(900);
    expect(err).toBeInstanceOf(WecomUnreachableError);
    expect((err as WecomUnreachableError).reason).toBe('timeout');
    await putLimits(corpid, {});
  });
});
