import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, seedSmallWorld, type TestUser } from './fixtures';

/**
 * Value suggestions for the rule builder: top values with counts of one contact text field among
 * the contacts the caller may see. The small world: 上海 (dept 3), 浙江 (2), 广东 ×2 (4), 北京 (1);
 * a 华东 (dept 2) admin sees contacts 1 and 2 only.
 */
const HUADONG_ADMIN: TestUser = { id: 9201, role: 'dept_admin', departmentId: 2 };
const HUANAN_STAFF: TestUser = { id: 9202, role: 'staff', departmentId: 4 };

beforeAll(async () => {
  await seedSmallWorld();
  await env.DB.batch([
    env.DB.prepare(`insert into custom_fields (key, label_zh, label_en, type) values ('industry', '行业', 'Industry', 'text'),
      ('score', '评分', 'Score', 'number')`),
    env.DB.prepare(`update contacts set custom = json_object('industry', '零售'), company = 'ACME' where id in (1, 3, 4)`),
    env.DB.prepare(`update contacts set custom = json_object('industry', '教育'), company = '' where id = 2`),
  ]);
});

describe('GET /api/field-values', () => {
  it('lists the top values with their counts, most held first', async () => {
    const res = await api('/api/field-values?field=region');
    expect(res.status).toBe(200);
    expect(res.body.field).toBe('region');
    expect(res.body.items[0]).toEqual({ value: '广东', count: 2 });
    expect(res.body.items).toHaveLength(4);
    expect(res.body.items.map((i: { count: number }) => i.count).reduce((a: number, b: number) => a + b)).toBe(5);
  });

  it("counts only the contacts of the caller's department subtree", async () => {
    const admin = await apiAs(HUADONG_ADMIN, '/api/field-values?field=region');
    expect(admin.status).toBe(200);
    expect(admin.body.items).toEqual([
      { value: '上海', count: 1 },
      { value: '浙江', count: 1 },
    ]);
    const staff = await apiAs(HUANAN_STAFF, '/api/field-values?field=city');
    expect(staff.body.items.map((i: { value: string }) => i.value).sort()).toEqual(['广州', '深圳']);
  });

  it('filters by part of the value, and skips empty values', async () => {
    const res = await api(`/api/field-values?field=region&q=${encodeURIComponent('广')}`);
    expect(res.body.items).toEqual([{ value: '广东', count: 2 }]);
    const company = await api('/api/field-values?field=company');
    expect(company.body.items).toEqual([{ value: 'ACME', count: 3 }]);
  });

  it('suggests values of a custom text attribute', async () => {
    const res = await api('/api/field-values?field=custom.industry&limit=1');
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([{ value: '零售', count: 3 }]);
  });

  it('refuses a field that has no suggestions with a 400 naming it', async () => {
    for (const field of ['nope', 'name', 'gender', 'departmentId', 'custom.score', 'custom.missing', "custom.x') --"]) {
      const res = await api(`/api/field-values?field=${encodeURIComponent(field)}`);
      expect(res.status, field).toBe(400);
      expect(res.body.error.details[0].path).toBe('field');
      expect(res.body.error.message).toContain(field);
    }
    const missing = await api('/api/field-values');
    expect(missing.status).toBe(400);
    expect((await api('/api/field-values?field=region&extra=1')).status).toBe(400);
  });

  it('answers a long or odd q with a 400 or matches, never a 500', async () => {
    const long = await api(`/api/field-values?field=region&q=${encodeURIComponent('广'.repeat(200))}`);
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].path).toBe('q');
    const fifty = await api(`/api/field-values?field=region&q=${encodeURIComponent('%_广'.repeat(12))}`);
    expect(fifty.status).toBe(200);
    expect(fifty.body.items).toEqual([]);
    expect((await api('/api/field-values?field=region&limit=0')).status).toBe(400);
  });
});
