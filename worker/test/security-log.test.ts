import { env } from 'cloudflare:workers';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { ROWS_PER_HOUR, ROWS_PER_NET_MINUTE, netOf, routePattern } from '../src/security/log';
import { purgeExpired } from '../src/cron/purge';
import { aroundBatch, anonApi, api, apiAs, sessionHeaders, type TestUser } from './fixtures';

/** The security log: refusals recorded centrally, coalesced, bounded, and shown to super admins. */

const db = env.DB;
const STAFF: TestUser = { id: 7201, role: 'staff', departmentId: 2, email: 'staff-sec@segflow.test' };
const EAST_ADMIN: TestUser = { id: 7202, role: 'dept_admin', departmentId: 2, email: 'east-sec@segflow.test' };

interface Row {
  subject: string;
  user_id: number | null;
  ip: string;
  method: string;
  route: string;
  path: string;
  status: number;
  reason: string;
  count: number;
}
const rows = async (where = '1', ...params: unknown[]) =>
  (
    await db
      .prepare(`SELECT subject, user_id, ip, method, route, path, status, reason, count FROM security_events WHERE ${where} ORDER BY id`)
      .bind(...params)
      .all<Row>()
  ).results;

const from = (ip: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), 'cf-connecting-ip': ip },
});
const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

beforeAll(async () => {
  await db.batch([
    db.prepare(
      `INSERT INTO departments (id, name, parent_id, path) VALUES (1, '总部', null, '/1/'), (2, '华东大区', 1, '/1/2/'), (4, '华南大区', 1, '/1/4/')`,
    ),
    db.prepare(
      `INSERT INTO rules (id, name, status, draft_graph, department_id, created_at, updated_at) VALUES (61, '华南规则', 'draft', '{}', 4, 0, 0)`,
    ),
    db.prepare(`INSERT INTO event_sources (id, name, kind, secret, created_at) VALUES ('sec-shop', '商城', 'generic', 'the-secret', 0)`),
  ]);
});
beforeEach(async () => {
  await db.prepare('DELETE FROM security_events').run();
});

describe('what is recorded', () => {
  it('a request without a session: 401, anonymous, with address, method, route and reason; repeats are one row with a count', async () => {
    for (let i = 0; i < 5; i++) expect((await anonApi('/api/contacts/12', from('198.51.100.10'))).status).toBe(401);
    expect(await rows()).toEqual([
      {
        subject: '',
        user_id: null,
        ip: '198.51.100.10',
        method: 'GET',
        route: '/api/contacts/:id',
        path: '/api/contacts/12',
        status: 401,
        reason: 'unauthorized',
        count: 5,
      },
    ]);
  });

  it('a role too low (403), a bad CSRF token and a department admin probing another department (404 out of scope)', async () => {
    expect((await apiAs(STAFF, '/api/users', from('198.51.100.11'))).status).toBe(403);
    const headers = { ...(await sessionHeaders(STAFF)), 'x-csrf-token': 'wrong', 'cf-connecting-ip': '198.51.100.11' };
    expect((await anonApi('/api/segments', post({ name: 'x' }, headers))).status).toBe(403);
    const probe = await apiAs(EAST_ADMIN, '/api/rules/61', from('198.51.100.12'));
    expect(probe.status).toBe(404);
    // the client cannot tell it from a missing rule; the log can
    expect(probe.body.error.code).toBe('not_found');
    expect((await apiAs(EAST_ADMIN, '/api/rules/999999', from('198.51.100.12'))).status).toBe(404);
    const got = await rows();
    expect(got.map((r) => [r.user_id, r.status, r.reason, r.route])).toEqual([
      [STAFF.id, 403, 'forbidden', '/api/users'],
      [STAFF.id, 403, 'csrf_token_invalid', '/api/segments'],
      [EAST_ADMIN.id, 404, 'out_of_scope', '/api/rules/:id'],
      [EAST_ADMIN.id, 404, 'not_found', '/api/rules/:id'],
    ]);
  });

  it('a bad webhook signature, against its source', async () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const r = await anonApi(
      '/api/webhooks/sec-shop',
      post(
        { id: 'e1', type: 'message', contact: { externalId: 'x' } },
        { 'X-Segflow-Timestamp': ts, 'X-Segflow-Signature': 'sha256=' + '0'.repeat(64), 'cf-connecting-ip': '203.0.113.9' },
      ),
    );
    expect(r.status).toBe(401);
    expect(await rows()).toMatchObject([
      {
        subject: 'source:sec-shop',
        ip: '203.0.113.9',
        route: '/api/webhooks/:sourceId',
        status: 401,
        reason: 'invalid_signature',
        count: 1,
      },
    ]);
  });

  it('wrong passwords against the email tried, and the throttle’s 429', async () => {
    for (let i = 0; i < 4; i++)
      await anonApi(
        '/api/auth/login',
        post({ email: 'nobody-sec@segflow.test', password: 'guess-guess' }, { 'cf-connecting-ip': '203.0.113.20' }),
      );
    const got = await rows();
    expect(got.map((r) => [r.subject, r.status, r.reason, r.count])).toEqual([
      ['email:nobody-sec@segflow.test', 401, 'unauthorized', 3],
      ['email:nobody-sec@segflow.test', 429, 'rate_limited', 1],
    ]);
  });

  it('does not record what is not a refusal: a 400, a 409, a success', async () => {
    expect((await api('/api/contacts?page=0')).status).toBe(400);
    expect((await api('/api/contacts')).status).toBe(200);
    expect(await rows()).toEqual([]);
  });

  it('does not record a signed-out visitor asking whether they are signed in, but does record a bad session cookie doing so', async () => {
    expect((await anonApi('/api/auth/me', from('198.51.100.30'))).status).toBe(401);
    expect(await rows()).toEqual([]);
    const forged = from('198.51.100.31', { headers: { cookie: 'segflow_session=forged-token-value' } });
    expect((await anonApi('/api/auth/me', forged)).status).toBe(401);
    expect((await rows()).map((r) => [r.ip, r.route, r.reason])).toEqual([['198.51.100.31', '/api/auth/me', 'unauthorized']]);
  });

  it('a route that does not exist is recorded for a signed-in caller', async () => {
    expect((await api('/api/no-such-thing/5', from('198.51.100.13'))).status).toBe(404);
    expect(await rows()).toMatchObject([{ route: '/api/no-such-thing/:id', reason: 'no_route', status: 404 }]);
  });
});

describe('flooding', () => {
  it('one address varying paths and emails gets at most its budget of rows a minute; the rest is counted on overflow rows', async () => {
    const N = 120;
    for (let i = 0; i < N; i++) await anonApi(`/api/probe-${i}`, from('198.51.100.66'));
    for (let i = 0; i < 10; i++)
      await anonApi(
        '/api/auth/login',
        post({ email: `spray${i}@segflow.test`, password: 'guess-guess' }, { 'cf-connecting-ip': '198.51.100.66' }),
      );
    const got = await rows('ip = ?', '198.51.100.66');
    // rows may straddle a minute boundary: at most the budget plus overflow rows per minute
    const minutes = (await db.prepare('SELECT count(DISTINCT minute) AS n FROM security_events').first<number>('n'))!;
    expect(got.length).toBeLessThanOrEqual(minutes * (ROWS_PER_NET_MINUTE + 2));
    expect(got.filter((r) => r.subject !== '*').length).toBeLessThanOrEqual(minutes * ROWS_PER_NET_MINUTE);
    const overflow = got.filter((r) => r.subject === '*');
    expect(overflow.length).toBeGreaterThan(0);
    expect(overflow.every((r) => r.route === '*')).toBe(true);
    // nothing is lost: every refusal is counted somewhere
    expect(got.reduce((n, r) => n + r.count, 0)).toBe(N + 10);
  });

  it('an IPv6 /64 is one address for the budget', async () => {
    expect(netOf('2001:db8:1:2:aaaa::1')).toBe(netOf('2001:db8:1:2:bbbb::9'));
    for (let i = 0; i < ROWS_PER_NET_MINUTE + 5; i++) await anonApi(`/api/v6-${i}`, from(`2001:db8:1:2:${(i + 1).toString(16)}::1`));
    const distinct = await rows("subject <> '*' AND ip LIKE '2001:db8:1:2:%'");
    expect(distinct.length).toBeLessThanOrEqual(ROWS_PER_NET_MINUTE * 2);
    expect((await rows("subject = '*'")).length).toBeGreaterThan(0);
  });

  it('when the log’s hourly budget is spent, refusals from any address go to one row per minute and reason', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO security_events (minute, first_at, last_at, subject, ip, net, method, route, path, status, reason, count)
         SELECT ?, ?, ?, '', '10.9.' || i, '10.9.' || i, 'GET', '/x', '/x', 401, 'unauthorized', 1 FROM n`,
      )
      .bind(ROWS_PER_HOUR, minute, minute, minute)
      .run();
    for (let i = 0; i < 30; i++) await anonApi('/api/contacts', from(`192.0.2.${i}`));
    const fresh = await rows("ip NOT LIKE '10.9.%'");
    expect(fresh.every((r) => r.ip === '*' && r.subject === '*')).toBe(true);
    expect(fresh.reduce((n, r) => n + r.count, 0)).toBe(30);
    expect(fresh.length).toBeLessThanOrEqual(2); // one per minute (a boundary may split it)
  });

  it('route patterns: ids become :id, so probing ids is one row', () => {
    expect(routePattern('/api/rules/61/versions/3')).toBe('/api/rules/:id/versions/:id');
    expect(routePattern('/api/auth/sessions/0123456789abcdef')).toBe('/api/auth/sessions/:id');
    expect(routePattern('/api/webhooks/wecom/corp-a')).toBe('/api/webhooks/wecom/:sourceId');
  });
});

describe('a failure to write the log', () => {
  it('never turns the refusal into a 500', async () => {
    const broken = aroundBatch(db, async (stmts, batch) => {
      if (
        stmts.some(
          (s) =>
            JSON.stringify(s).includes('security_events') ||
            String((s as unknown as { statement?: string }).statement ?? '').includes('security_events'),
        )
      ) {
        throw new Error('D1_ERROR: disk full');
      }
      return batch(stmts);
    });
    const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
    const res = await app.fetch(new Request('http://segflow.test/api/contacts'), { ...env, DB: broken }, ctx);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect(await rows()).toEqual([]);
  });
});

describe('GET /api/security-log', () => {
  it('super admins list it newest first, filtered by who, address and reason; others get 403', async () => {
    await anonApi(
      '/api/auth/login',
      post({ email: 'Probe.One@segflow.test', password: 'guess-guess' }, { 'cf-connecting-ip': '203.0.113.77' }),
    );
    await apiAs(EAST_ADMIN, '/api/rules/61', from('198.51.100.78'));
    await apiAs(STAFF, '/api/users', from('198.51.100.79'));
    const all = await api('/api/security-log');
    expect(all.status).toBe(200);
    expect(all.body.retentionDays).toBe(180);
    // the staff's refusal is the newest; the list below this test's own calls is what we made
    expect(all.body.items.map((e: { reason: string }) => e.reason)).toEqual(['forbidden', 'out_of_scope', 'unauthorized']);
    expect(all.body.items[1]).toMatchObject({
      user: { id: EAST_ADMIN.id, email: EAST_ADMIN.email },
      ip: '198.51.100.78',
      method: 'GET',
      route: '/api/rules/:id',
      path: '/api/rules/61',
      status: 404,
      count: 1,
    });
    expect(all.body.items[2]).toMatchObject({ user: null, subject: 'probe.one@segflow.test' });

    const byWho = await api('/api/security-log?who=PROBE.one');
    expect(byWho.body.items.map((e: { reason: string }) => e.reason)).toEqual(['unauthorized']);
    const byUser = await api('/api/security-log?who=east-sec');
    expect(byUser.body.total).toBe(1);
    const byIp = await api('/api/security-log?ip=198.51.100.7');
    expect(byIp.body.items.map((e: { ip: string }) => e.ip)).toEqual(['198.51.100.79', '198.51.100.78']);
    const byReason = await api('/api/security-log?reason=out_of_scope');
    expect(byReason.body.total).toBe(1);
    const bad = await api('/api/security-log?reason=nope');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('reason');
    expect((await apiAs(EAST_ADMIN, '/api/security-log')).status).toBe(403);
  });

  it('a long Chinese who is answered, not a 500', async () => {
    const r = await api(`/api/security-log?who=${encodeURIComponent('王'.repeat(60))}`);
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([]);
  });
});

describe('retention', () => {
  it('the audit purge deletes security log rows past AUDIT_RETENTION_DAYS, and says so in its entry', async () => {
    const now = Date.now();
    const old = now - 31 * 86_400_000;
    await db.batch([
      db
        .prepare(
          `INSERT INTO security_events (minute, first_at, last_at, subject, ip, net, method, route, path, status, reason, count) VALUES (?, ?, ?, '', 'a', 'a', 'GET', '/x', '/x', 401, 'unauthorized', 3)`,
        )
        .bind(old, old, old),
      db
        .prepare(
          `INSERT INTO security_events (minute, first_at, last_at, subject, ip, net, method, route, path, status, reason, count) VALUES (?, ?, ?, '', 'b', 'b', 'GET', '/x', '/x', 401, 'unauthorized', 3)`,
        )
        .bind(now, now, now),
    ]);
    const report = await purgeExpired({ ...env, AUDIT_RETENTION_DAYS: '30' } as Env, now);
    expect(report.securityEvents).toBe(1);
    expect((await rows()).map((r) => r.ip)).toEqual(['b']);
    const entry = await db.prepare(`SELECT after FROM audit_log WHERE action = 'audit.purge' ORDER BY id DESC`).first<string>('after');
    expect(JSON.parse(entry!)).toMatchObject({ securityEvents: 1 });
  });
});
