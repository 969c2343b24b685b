import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { anonApi, api, apiAs, ROOT } from './fixtures';
import { hashPassword } from '@shared/auth/password';

const PASSWORD = 'correct-horse-battery';

async function addUser(id: number, email: string, opts: { disabled?: boolean; role?: string } = {}) {
  const salt = 'c2FsdHNhbHRzYWx0c2FsdA==';
  await env.DB.prepare('INSERT INTO users (id, email, name, role, password_hash, password_salt, disabled) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .bind(id, email, '用户', opts.role ?? 'super_admin', await hashPassword(PASSWORD, salt), salt, opts.disabled ? 1 : 0)
    .run();
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** The session cookie a response set, as a request header value. */
function cookieOf(headers: Headers): string {
  const set = headers.get('set-cookie') ?? '';
  const m = /segflow_session=([^;]+)/.exec(set);
  if (!m) throw new Error(`no session cookie in ${set}`);
  return `segflow_session=${m[1]}`;
}

async function login(email: string, password = PASSWORD, ip = '203.0.113.7') {
  return anonApi('/api/auth/login', json({ email, password }, { 'cf-connecting-ip': ip }));
}

beforeAll(async () => {
  await addUser(1, 'ann@segflow.test');
  await addUser(2, 'off@segflow.test', { disabled: true });
  await addUser(3, 'bob@segflow.test');
  await addUser(4, 'cat@segflow.test');
});

describe('sign-in', () => {
  it('signs in with the right password: HttpOnly SameSite=Strict cookie, the user and a CSRF token', async () => {
    const res = await login('ANN@segflow.test ');
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: 1, email: 'ann@segflow.test', role: 'super_admin' });
    expect(res.body.csrfToken).toMatch(/^[\w-]{40,}$/);
    const set = res.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    const me = await anonApi('/api/auth/me', { headers: { cookie: cookieOf(res.headers) } });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user: res.body.user, csrfToken: res.body.csrfToken });
    const row = await env.DB.prepare('SELECT token_hash FROM sessions WHERE user_id = 1').first<string>('token_hash');
    expect(row).toMatch(/^[0-9a-f]{64}$/);
    expect(cookieOf(res.headers)).not.toContain(row!);
  });

  it('refuses a wrong password, an unknown email and a disabled account with the same 401', async () => {
    const wrong = await login('bob@segflow.test', 'not-the-password');
    const unknown = await login('nobody@segflow.test');
    const disabled = await login('off@segflow.test');
    for (const r of [wrong, unknown, disabled]) {
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      expect(r.headers.get('set-cookie')).toBeNull();
    }
    expect(new Set([wrong, unknown, disabled].map((r) => r.body.error.message)).size).toBe(1);
  });

  it('names bad input: missing fields, unknown fields, not an email', async () => {
    const r = await anonApi('/api/auth/login', json({ email: 'x', extra: 1 }));
    expect(r.status).toBe(400);
    const paths = r.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['email', 'password', 'extra']));
  });
  // throttling (per account and address pair, per address): sign-in-throttle.test.ts
});

describe('sessions', () => {
  it('every /api route but health, login and webhooks needs a session', async () => {
    for (const path of ['/api/contacts', '/api/rules', '/api/taxonomy/groups', '/api/users', '/api/auth/me', '/api/no-such-route']) {
      const r = await anonApi(path);
      expect(r.status, path).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
    expect((await anonApi('/api/health')).status).toBe(200);
    // webhooks answer for themselves (an unknown source, not "sign in")
    const hook = await anonApi('/api/webhooks/nope', json({}));
    expect(hook.status).not.toBe(401);
  });

  it('a write without the session CSRF token is refused and changes nothing', async () => {
    const res = await login('ann@segflow.test', PASSWORD, '203.0.113.50');
    const cookie = cookieOf(res.headers);
    const before = await env.DB.prepare('SELECT count(*) AS n FROM tag_groups').first<number>('n');
    for (const csrf of [undefined, 'wrong-token']) {
      const headers: Record<string, string> = { cookie };
      if (csrf) headers['x-csrf-token'] = csrf;
      const r = await anonApi('/api/taxonomy/groups', json({ name: 'CSRF组' }, headers));
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('csrf_token_invalid');
    }
    expect(await env.DB.prepare('SELECT count(*) AS n FROM tag_groups').first<number>('n')).toBe(before);
    const ok = await anonApi(
      '/api/taxonomy/groups',
      json({ name: 'CSRF组' }, { cookie, 'x-csrf-token': res.body.csrfToken, 'cf-connecting-ip': '203.0.113.51' }),
    );
    expect(ok.status).toBe(201);
    const audit = await env.DB.prepare(
      "SELECT actor_user_id, actor_ip FROM audit_log WHERE action = 'tag_group.create' ORDER BY id DESC",
    ).first();
    expect(audit).toEqual({ actor_user_id: 1, actor_ip: '203.0.113.51' });
  });

  it('logout ends the session; a revoked or expired session is refused', async () => {
    const res = await login('bob@segflow.test', PASSWORD, '203.0.113.60');
    const cookie = cookieOf(res.headers);
    const headers = { cookie, 'x-csrf-token': res.body.csrfToken };
    expect((await anonApi('/api/auth/logout', json({}, headers))).status).toBe(200);
    expect((await anonApi('/api/auth/me', { headers: { cookie } })).status).toBe(401);

    const again = await login('bob@segflow.test', PASSWORD, '203.0.113.61');
    await env.DB.prepare('UPDATE sessions SET expires_at = 1 WHERE user_id = 3 AND revoked_at IS NULL').run();
    expect((await anonApi('/api/auth/me', { headers: { cookie: cookieOf(again.headers) } })).status).toBe(401);
  });

  it('lists my sessions and revokes one by id; disabling a user ends theirs', async () => {
    const a = await login('bob@segflow.test', PASSWORD, '203.0.113.70');
    const b = await login('bob@segflow.test', PASSWORD, '203.0.113.71');
    const asA = { cookie: cookieOf(a.headers), 'x-csrf-token': a.body.csrfToken };
    const list = await anonApi('/api/auth/sessions', { headers: asA });
    expect(list.status).toBe(200);
    const other = list.body.find((s: { ip: string }) => s.ip === '203.0.113.71');
    expect(list.body.find((s: { current: boolean }) => s.current).ip).toBe('203.0.113.70');
    expect((await anonApi(`/api/auth/sessions/${other.id}`, { method: 'DELETE', headers: asA })).status).toBe(200);
    expect((await anonApi('/api/auth/me', { headers: { cookie: cookieOf(b.headers) } })).status).toBe(401);
    expect((await anonApi('/api/auth/me', { headers: { cookie: asA.cookie } })).status).toBe(200);

    expect(
      (
        await api('/api/users/3', {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ disabled: true }),
        })
      ).status,
    ).toBe(200);
    expect((await anonApi('/api/auth/me', { headers: { cookie: asA.cookie } })).status).toBe(401);
  });
});

describe('users (super admin only)', () => {
  it('creates a user who can then sign in; staff may not manage users', async () => {
    const r = await api(
      '/api/users',
      json({ email: 'new@segflow.test', name: '新人', role: 'super_admin', departmentId: null, password: 'a-long-password' }),
    );
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ email: 'new@segflow.test', role: 'super_admin', disabled: false });
    expect((await login('new@segflow.test', 'a-long-password', '203.0.113.80')).status).toBe(200);
    const dup = await api(
      '/api/users',
      json({ email: 'new@segflow.test', name: '重复', role: 'super_admin', departmentId: null, password: 'a-long-password' }),
    );
    expect(dup.status).toBe(409);
    const short = await api(
      '/api/users',
      json({ email: 'x@segflow.test', name: 'x', role: 'super_admin', departmentId: null, password: 'short' }),
    );
    expect(short.status).toBe(400);
    expect(short.body.error.details[0].path).toBe('password');
    const staff = await apiAs({ id: 9100, role: 'staff', departmentId: null }, '/api/users');
    expect(staff.status).toBe(403);
  });

  it('a super admin cannot demote or disable themself', async () => {
    const r = await api(`/api/users/${ROOT.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'staff' }),
    });
    expect(r.status).toBe(409);
  });
});
