import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api } from './fixtures';

beforeAll(async () => {
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO departments (id, name, parent_id, path) VALUES (70, '华东大区', NULL, '/70/')"),
    env.DB.prepare(
      "INSERT INTO users (id, email, name, role, department_id, disabled) VALUES (71, 'lin@segflow.test', '林', 'staff', 70, 1)",
    ),
    env.DB.prepare("INSERT INTO users (id, email, name, role, department_id) VALUES (72, 'wu@segflow.test', '吴', 'dept_admin', 70)"),
    // two live sessions of 吴, one revoked, one expired: only the live ones count
    env.DB.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, 72, ?, ?)').bind('a', now, now + 60_000),
    env.DB.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, 72, ?, ?)').bind('b', now, now + 60_000),
    env.DB.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at) VALUES (?, 72, ?, ?, ?)').bind(
      'c',
      now,
      now + 60_000,
      now,
    ),
    env.DB.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, 72, ?, ?)').bind(
      'd',
      now - 120_000,
      now - 60_000,
    ),
  ]);
});

describe('people', () => {
  it('lists super admins, then department admins, then staff, each with department name, disabled flag and live sessions', async () => {
    const res = await api('/api/users');
    expect(res.status).toBe(200);
    const roles = res.body.map((u: { role: string }) => u.role);
    expect(roles).toEqual(
      [...roles].sort((a, b) => ['super_admin', 'dept_admin', 'staff'].indexOf(a) - ['super_admin', 'dept_admin', 'staff'].indexOf(b)),
    );
    expect(res.body.find((u: { id: number }) => u.id === 72)).toEqual({
      id: 72,
      email: 'wu@segflow.test',
      name: '吴',
      role: 'dept_admin',
      departmentId: 70,
      departmentName: '华东大区',
      disabled: false,
      createdAt: expect.any(Number),
      lastLoginAt: null,
      activeSessions: 2,
      // written by raw SQL above: keyed by the cron's step, not yet
      searchKeys: [],
    });
    expect(res.body.find((u: { id: number }) => u.id === 71)).toMatchObject({
      disabled: true,
      activeSessions: 0,
      departmentName: '华东大区',
    });
  });

  it('answers a created user as the list shows it, and refuses an unknown department with 400', async () => {
    const created = await api('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'zhou@segflow.test', name: '周', role: 'staff', departmentId: 70, password: 'correct-horse-battery' }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: 'zhou@segflow.test',
      role: 'staff',
      departmentName: '华东大区',
      disabled: false,
      activeSessions: 0,
      // created through the API: its name's pinyin keys are written with it
      searchKeys: ['z', 'zhou'],
    });
    const unknownDepartment = await api('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'qian@segflow.test', name: '钱', role: 'staff', departmentId: 999, password: 'correct-horse-battery' }),
    });
    expect(unknownDepartment.status).toBe(400);
    expect(unknownDepartment.body.error.code).toBe('unknown_reference');
  });
});
