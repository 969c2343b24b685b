import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, seedSmallWorld } from './fixtures';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const paths = async () =>
  Object.fromEntries(
    (await db.prepare('SELECT id, path FROM departments ORDER BY id').all<{ id: number; path: string }>()).results.map((r) => [
      r.id,
      r.path,
    ]),
  );
const auditCount = async () => (await db.prepare('SELECT COUNT(*) AS n FROM audit_log').first<{ n: number }>())!.n;
const lastAudit = () => db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT 1').first<any>();

beforeAll(async () => {
  await seedSmallWorld();
});

describe('departments', () => {
  it('creates a department under a parent (path from the new id) or at the top, audited', async () => {
    const res = await api('/api/departments', json({ name: ' 杭州二组 ', parentId: 2 }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: '杭州二组', parentId: 2, contacts: 0 });
    const id = res.body.id;
    expect((await paths())[id]).toBe(`/1/2/${id}/`);
    const audit = await lastAudit();
    expect(audit).toMatchObject({ action: 'department.create', object_type: 'department', object_id: String(id), actor_user_id: 9001 });
    expect(JSON.parse(audit.after)).toEqual({ name: '杭州二组', parentId: 2, path: `/1/2/${id}/` });

    const top = await api('/api/departments', json({ name: '海外事业部', parentId: null }));
    expect(top.status).toBe(201);
    expect((await paths())[top.body.id]).toBe(`/${top.body.id}/`);
    // the list shows them
    const list = await api('/api/departments');
    expect(list.body.map((d: any) => d.name)).toContain('杭州二组');
  });

  it('refuses a sibling with the same name, an unknown parent and empty names, writing nothing', async () => {
    const before = await auditCount();
    const dup = await api('/api/departments', json({ name: '上海一组', parentId: 2 }));
    expect(dup.status).toBe(409);
    expect(dup.body.error.details[0].path).toBe('name');
    expect((await api('/api/departments', json({ name: 'x', parentId: 999 }))).body.error.details[0].path).toBe('parentId');
    expect((await api('/api/departments', json({ name: '  ', parentId: 1 }))).status).toBe(400);
    expect((await api('/api/departments', json({ name: 'a', parentId: 1, extra: 1 }))).status).toBe(400);
    // the same name elsewhere in the tree is fine
    expect((await api('/api/departments', json({ name: '上海一组', parentId: 4 }))).status).toBe(201);
    expect(await auditCount()).toBe(before + 1);
  });

  it('renames, audited with before and after', async () => {
    const res = await api('/api/departments/4', json({ name: '华南大区（广深）' }, 'PATCH'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 4, name: '华南大区（广深）', parentId: 1, contacts: 2 });
    const audit = await lastAudit();
    expect(audit.action).toBe('department.rename');
    expect(JSON.parse(audit.before).name).toBe('华南大区');
    expect(JSON.parse(audit.after).name).toBe('华南大区（广深）');
    expect((await paths())[4]).toBe('/1/4/');
  });

  it('moves a department with its whole subtree, rewriting every path in one batch', async () => {
    // 2 华东大区 › 3 上海一组 › new 5: move 2 under 4
    const leaf = await api('/api/departments', json({ name: '浦东小队', parentId: 3 }));
    const leafId = leaf.body.id;
    const untouched = await paths();
    const res = await api('/api/departments/2', json({ parentId: 4 }, 'PATCH'));
    expect(res.status).toBe(200);
    expect(res.body.parentId).toBe(4);
    const after = await paths();
    expect(after[2]).toBe('/1/4/2/');
    expect(after[3]).toBe('/1/4/2/3/');
    expect(after[leafId]).toBe(`/1/4/2/3/${leafId}/`);
    // everything under 2 (also what earlier tests created there) moved along; the rest did not
    for (const [id, path] of Object.entries(untouched)) {
      expect(after[id], `department ${id}`).toBe(path.startsWith('/1/2/') ? `/1/4/2/${path.slice('/1/2/'.length)}` : path);
    }
    const audit = await lastAudit();
    expect(audit.action).toBe('department.move');
    expect(JSON.parse(audit.before)).toMatchObject({ parentId: 1, path: '/1/2/' });
    expect(JSON.parse(audit.after)).toMatchObject({ parentId: 4, path: '/1/4/2/' });

    // a department admin of 4 now has 2's contacts in scope (contact 2 is in department 2)
    const scoped = await apiAs({ id: 9300, role: 'dept_admin', departmentId: 4 }, '/api/auth/me');
    expect(scoped.body.user.departmentPath).toBe('/1/4/');

    // and to the top level
    const top = await api('/api/departments/3', json({ parentId: null }, 'PATCH'));
    expect(top.status).toBe(200);
    const p = await paths();
    expect(p[3]).toBe('/3/');
    expect(p[leafId]).toBe(`/3/${leafId}/`);
    expect(p[2]).toBe('/1/4/2/');
  });

  it('refuses cycles: under itself or anything below it, changing nothing', async () => {
    const before = await paths();
    const audits = await auditCount();
    const self = await api('/api/departments/1', json({ parentId: 1 }, 'PATCH'));
    expect(self.status).toBe(409);
    const below = await api('/api/departments/1', json({ parentId: 2 }, 'PATCH'));
    expect(below.status).toBe(409);
    expect(below.body.error.details[0].path).toBe('parentId');
    expect((await api('/api/departments/1', json({}, 'PATCH'))).status).toBe(400);
    expect((await api('/api/departments/999', json({ name: 'x' }, 'PATCH'))).status).toBe(404);
    expect(await paths()).toEqual(before);
    expect(await auditCount()).toBe(audits);
  });

  it('writes are for super admins only; everyone signed in may list', async () => {
    const admin = { id: 9301, role: 'dept_admin' as const, departmentId: 1 };
    expect((await apiAs(admin, '/api/departments', json({ name: 'x', parentId: 1 }))).status).toBe(403);
    expect((await apiAs(admin, '/api/departments/4', json({ name: 'x' }, 'PATCH'))).status).toBe(403);
    expect((await apiAs({ id: 9302, role: 'staff', departmentId: 4 }, '/api/departments')).status).toBe(200);
  });
});
