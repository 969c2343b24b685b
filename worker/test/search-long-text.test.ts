import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { NOW, api, apiAs, seedSmallWorld } from './fixtures';
import { keyQueued } from '../src/search/keys';

/**
 * D1 refuses LIKE / GLOB patterns over 50 bytes ("LIKE or GLOB pattern too complex"): 17
 * Chinese characters (51 bytes in UTF-8) made every searched list answer 500. Each list must
 * answer every length its schema accepts (100 characters), and still find what it should.
 */
const LONG = '华东大区上海一组高价值客户复购提醒名单甲'; // 20 characters, 60 bytes
const MAX = '客'.repeat(100); // the longest q the schemas accept
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const emptyGraph = { schemaVersion: 1, nodes: [], edges: [] };

// a department chain whose path ("/1/1001/1002/…/1012/") is longer than 50 bytes
const DEEP = Array.from({ length: 12 }, (_, i) => 1001 + i);
const deepPath = (n: number) => `/1/${DEEP.slice(0, n + 1).join('/')}/`;
const DEEPEST = DEEP[DEEP.length - 1]!;

beforeAll(async () => {
  await seedSmallWorld();
  const db = env.DB;
  await db.batch([
    ...DEEP.map((id, i) =>
      db
        .prepare('INSERT INTO departments (id, name, parent_id, path) VALUES (?, ?, ?, ?)')
        .bind(id, `深层${i}`, i === 0 ? 1 : DEEP[i - 1]!, deepPath(i)),
    ),
    db
      .prepare(
        `INSERT INTO contacts (id, kind, external_id, name, remark, gender, department_id, bucket, created_at, updated_at)
         VALUES (101, 'wecom_customer', 'long_1', ?, 'Remark With CAPS 100%', 'unknown', ?, 1, ?, ?),
                (102, 'wecom_customer', 'long_2', '短名', ?, 'unknown', 3, 2, ?, ?)`,
      )
      .bind(`${LONG}张三`, DEEPEST, NOW, NOW, `备注：${LONG}`, NOW, NOW),
  ]);
  await keyQueued(db); // raw SQL does not key names: the cron's step does

  expect(deepPath(DEEP.length - 1).length).toBeGreaterThan(50);
  expect((await api('/api/rules', json({ name: `${LONG}规则`, graph: emptyGraph }))).status).toBe(201);
  expect((await api('/api/segments', json({ name: `${LONG}分群`, graph: emptyGraph }))).status).toBe(201);
});

describe('searching with long Chinese text', () => {
  it('finds contacts by a 20-character Chinese name or remark, and answers the longest query allowed', async () => {
    const res = await api(`/api/contacts?q=${encodeURIComponent(LONG)}`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((c: { externalId: string }) => c.externalId).sort()).toEqual(['long_1', 'long_2']);
    const max = await api(`/api/contacts?q=${encodeURIComponent(MAX)}`);
    expect(max.status).toBe(200);
    expect(max.body.total).toBe(0);
  });

  it('keeps the old matching: ASCII case ignored, % and _ literal', async () => {
    expect((await api('/api/contacts?q=remark%20with%20caps')).body.items.map((c: { externalId: string }) => c.externalId)).toEqual([
      'long_1',
    ]);
    expect(
      (await api(`/api/contacts?q=${encodeURIComponent('100%')}`)).body.items.map((c: { externalId: string }) => c.externalId).sort(),
    ).toEqual(['long_1', 'o_c']);
    expect(
      (await api(`/api/contacts?q=${encodeURIComponent('0%_满')}`)).body.items.map((c: { externalId: string }) => c.externalId),
    ).toEqual(['o_c']);
    expect((await api(`/api/contacts?q=${encodeURIComponent('_')}`)).body.items.map((c: { externalId: string }) => c.externalId)).toEqual([
      'o_c',
    ]);
  });

  it('filters and scopes contacts by a department whose path is longer than 50 bytes', async () => {
    const byDept = await api(`/api/contacts?departmentId=${DEEP[0]}`);
    expect(byDept.status).toBe(200);
    expect(byDept.body.items.map((c: { externalId: string }) => c.externalId)).toEqual(['long_1']);
    const staff = await apiAs({ id: 9501, role: 'staff', departmentId: DEEPEST }, `/api/contacts?q=${encodeURIComponent(LONG)}`);
    expect(staff.status).toBe(200);
    expect(staff.body.items.map((c: { externalId: string }) => c.externalId)).toEqual(['long_1']);
  });

  it('lists the rules and segments of a user whose department path is longer than 50 bytes', async () => {
    const deepStaff = { id: 9502, role: 'staff' as const, departmentId: DEEPEST };
    expect((await apiAs(deepStaff, '/api/rules')).status).toBe(200);
    expect((await apiAs(deepStaff, '/api/segments')).status).toBe(200);
  });

  it('finds audit entries by a long value of their sentence, and by the longest action prefix allowed', async () => {
    const res = await api(`/api/audit?q=${encodeURIComponent(LONG)}`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((e: { action: string }) => e.action).sort()).toEqual(['rule.create', 'segment.create']);
    expect((await api(`/api/audit?q=${encodeURIComponent(MAX)}`)).body.total).toBe(0);
    const action = await api(`/api/audit?action=${'segment.'.padEnd(60, 'x')}`);
    expect(action.status).toBe(200);
    expect(action.body.total).toBe(0);
    expect((await api('/api/audit?action=segment.')).body.items.map((e: { action: string }) => e.action)).toEqual(['segment.create']);
  });

  it('finds rules and segments by a long Chinese name', async () => {
    const rules = await api(`/api/rules?q=${encodeURIComponent(LONG)}`);
    expect(rules.status).toBe(200);
    expect(rules.body.items.map((r: { name: string }) => r.name)).toEqual([`${LONG}规则`]);
    expect((await api(`/api/rules?q=${encodeURIComponent(MAX)}`)).body.total).toBe(0);
    const segments = await api(`/api/segments?q=${encodeURIComponent(LONG)}`);
    expect(segments.status).toBe(200);
    expect(segments.body.items.map((s: { name: string }) => s.name)).toEqual([`${LONG}分群`]);
    expect((await api(`/api/segments?q=${encodeURIComponent(MAX)}`)).body.total).toBe(0);
  });

  it('exports the contacts a long Chinese search finds, and a department deeper than 50 bytes', async () => {
    const res = await api('/api/exports/contacts', json({ filter: { q: LONG } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-export-rows')).toBe('2');
    expect(res.body).toContain('long_1');
    const deep = await api('/api/exports/contacts', json({ filter: { departmentId: DEEP[0] } }));
    expect(deep.status).toBe(200);
    expect(deep.headers.get('x-export-rows')).toBe('1');
  });
});
