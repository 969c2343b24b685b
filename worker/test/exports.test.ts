import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, ROOT, seedSmallWorld, sessionHeaders } from './fixtures';
import { parseCsv } from '@shared/import/parse';

// Small world (fixtures.ts): contacts 1 张伟 (wecom, dept 3), 2 李娜 (friend, dept 2), 3 王芳 (follower, dept 4),
// 4 刘洋 (group member, dept 4), 5 陈静 (wecom, dept 1); tag 1 活跃客户 held by 1, 2, 5.
const db = env.DB;

async function exportCsv(body: unknown) {
  const res = await api('/api/exports/contacts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res;
}

/** The export's raw response (api() parses JSON; a CSV needs the bytes). */
async function exportRaw(body: unknown): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await exports.default.fetch(
    new Request('http://segflow.test/api/exports/contacts', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await sessionHeaders(ROOT)) },
      body: JSON.stringify(body),
    }),
  );
  return {
    status: res.status,
    text: new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(await res.arrayBuffer()),
    headers: res.headers,
  };
}

const idsOf = (text: string) => parseCsv(new TextEncoder().encode(text)).rows.map((r) => r.cells[0]);

beforeAll(async () => {
  await seedSmallWorld();
  await db.batch([
    db.prepare(`UPDATE contacts SET remark = '=HYPERLINK("http://evil","点我")' WHERE id = 4`),
    db.prepare(
      `INSERT INTO segments (id, name, graph, logic, created_at, updated_at) VALUES (1, '活跃人群', '{}', '{"sf_has_tag":[1]}', 0, 0)`,
    ),
  ]);
});

describe('POST /api/exports/contacts', () => {
  it('exports the filtered contacts as UTF-8 CSV with a BOM, headers the import reads back, tags as 组/标签', async () => {
    const res = await exportRaw({ filter: { kind: 'wecom_customer' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="contacts-\d{4}-\d{2}-\d{2}\.csv"/);
    expect(res.text.charCodeAt(0)).toBe(0xfeff);
    const sheet = parseCsv(new TextEncoder().encode(res.text));
    expect(sheet.headers.slice(0, 3)).toEqual(['外部ID', '姓名', '类型']);
    expect(sheet.rows.map((r) => [r.cells[0], r.cells[1]])).toEqual([
      ['wm_a', '张伟'],
      ['wm_e', '陈静'],
    ]);
    expect(sheet.rows[0]!.cells[10]!.split('，').sort()).toEqual(['兴趣偏好/抗老', '兴趣偏好/护肤', '生命周期/活跃客户']);
    expect(sheet.rows[0]!.cells[11]).toBe('1280');
    expect(res.headers.get('x-export-rows')).toBe('2');
  });

  it('exports exactly the contacts the Contacts list shows for the same filter', async () => {
    const filters = [
      {},
      { q: '张' },
      { tagId: 1 },
      { departmentId: 2 },
      { kind: 'follower', departmentId: 1 },
      { q: 'wxid_b' },
      { tagId: 3, kind: 'friend' },
    ];
    for (const filter of filters) {
      const query = new URLSearchParams({
        ...Object.fromEntries(Object.entries(filter).map(([k, v]) => [k, String(v)])),
        sort: 'name',
        pageSize: '100',
      });
      const list = await api(`/api/contacts?${query}`);
      const csv = await exportRaw({ filter });
      expect(idsOf(csv.text).sort(), JSON.stringify(filter)).toEqual(
        list.body.items.map((c: { externalId: string }) => c.externalId).sort(),
      );
      expect(Number(csv.headers.get('x-export-rows'))).toBe(list.body.total);
    }
  });

  it("exports a segment's audience, headers in English when asked", async () => {
    const res = await exportRaw({ segmentId: 1, locale: 'en' });
    expect(res.status).toBe(200);
    expect(res.text.split('\r\n')[0]!.slice(1, 22)).toBe('External ID,Name,Kind');
    expect(idsOf(res.text).sort()).toEqual(['wm_a', 'wm_e', 'wxid_b']);
  });

  it('defuses cells a spreadsheet would run as a formula', async () => {
    const res = await exportRaw({ filter: { q: 'g_d' } });
    expect(parseCsv(new TextEncoder().encode(res.text)).rows[0]!.cells[8]).toBe(`'=HYPERLINK("http://evil","点我")`);
  });

  it('is audited as contact.export with the filter, the row count and the actor', async () => {
    await exportRaw({ filter: { tagId: 1 } });
    const row = await db
      .prepare(
        `SELECT action, object_type, actor_user_id, summary, after FROM audit_log WHERE action = 'contact.export' ORDER BY id DESC LIMIT 1`,
      )
      .first<{ action: string; object_type: string; actor_user_id: number; summary: string; after: string }>();
    expect(row).toMatchObject({ action: 'contact.export', object_type: 'contact', actor_user_id: ROOT.id });
    expect(JSON.parse(row!.after)).toEqual({ filter: { tagId: 1 }, segmentId: null, rows: 3, format: 'csv' });
  });

  it('streams every contact of a large export, page after page', async () => {
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4500)
         INSERT INTO contacts (kind, external_id, name, bucket, created_at, updated_at) SELECT 'friend', 'bulk_' || i, '批量' || i, i % 10000, 0, 0 FROM n`,
      )
      .run();
    try {
      const res = await exportRaw({ filter: { kind: 'friend' } });
      const ids = idsOf(res.text);
      expect(ids).toHaveLength(4501);
      expect(new Set(ids).size).toBe(4501);
      expect(res.headers.get('x-export-rows')).toBe('4501');
    } finally {
      await db.prepare(`DELETE FROM contacts WHERE external_id LIKE 'bulk_%'`).run();
    }
  });

  it('refuses bad requests and other roles with a 4xx naming the problem', async () => {
    const unknownTag = await exportCsv({ filter: { tagId: 999 } });
    expect(unknownTag.status).toBe(400);
    expect(unknownTag.body.error.details).toEqual([{ path: 'filter.tagId', message: 'no such tag' }]);
    const both = await exportCsv({ filter: {}, segmentId: 1 });
    expect(both.status).toBe(400);
    expect(both.body.error.details[0].path).toBe('segmentId');
    expect((await exportCsv({ segmentId: 99 })).status).toBe(400);
    expect((await exportCsv({ filter: { color: 'red' } })).status).toBe(400);
    const staff = await apiAs({ id: 9201, role: 'staff', departmentId: null }, '/api/exports/contacts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect(staff.status).toBe(403);
  });
});
