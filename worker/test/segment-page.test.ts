/**
 * A segment page's API: size history (snapshots, scoped like the home), overlap with another
 * segment (differential: one pass of SQL against each segment's members counted on its own),
 * and the export (CSV and XLSX parsed back, labels per locale, sealed fields by role, audited).
 *
 * World: seedSmallWorld (departments 1 总部 › 2 华东 › 3 上海一组, 4 华南; contacts 1–5) plus
 * 240 generated contacts spread over the departments and none, with varied spend, gender, kind,
 * region and tags, so the segments below overlap in every way.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { unzipSync, strFromU8 } from 'fflate';
import { api, apiAs, ROOT, seedSmallWorld, sessionHeaders, type TestUser } from './fixtures';
import { parseCsv } from '@shared/import/parse';
import { compileWhere } from '@shared/rules/sql';
import type { ConditionSpec, JsonLogic, RuleGraph } from '@shared/rules/types';
import type { SegmentHistoryResponse, SegmentOverlapResponse } from '@shared/api/segments';
import { fieldKeys, sealField } from '../src/crypto/fields';
import { previewContext } from '../src/rules/context';

const db = env.DB;
const ADMIN: TestUser = { id: 9301, role: 'dept_admin', departmentId: 2 };
const STAFF: TestUser = { id: 9302, role: 'staff', departmentId: 2 };
const SOUTH: TestUser = { id: 9303, role: 'dept_admin', departmentId: 4 };
const VIEWERS = [ROOT, ADMIN, STAFF, SOUTH];

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Start → one condition → End: the audience is whoever passes the condition. */
function graphOf(...conds: ConditionSpec[]): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 's', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } },
      ...conds.map((condition, i) => ({ id: `c${i}`, kind: 'condition' as const, condition })),
      { id: 'end', kind: 'logic', op: conds.length > 1 ? 'and' : 'or' },
    ],
    edges: [
      ...conds.map((_c, i) => ({ id: `in${i}`, source: 's', target: `c${i}` })),
      ...conds.map((_c, i) => ({ id: `out${i}`, source: `c${i}`, target: 'end', sourceHandle: 'yes' })),
    ],
  } as RuleGraph;
}

const SEGMENTS: Record<string, ConditionSpec[]> = {
  spenders: [{ field: 'totalSpend', op: 'gte', value: 50_000 }],
  women: [{ field: 'gender', op: 'eq', value: 'female' }],
  active: [{ field: 'tags', op: 'has', value: 1 }],
  wecom: [{ field: 'kind', op: 'eq', value: 'wecom_customer' }],
  southSpenders: [
    { field: 'region', op: 'eq', value: '广东' },
    { field: 'totalSpend', op: 'gte', value: 20_000 },
  ],
  nobody: [{ field: 'totalSpend', op: 'gte', value: 999_999_999 }],
};
const ids: Record<string, number> = {};

async function rawExport(user: TestUser, id: number | string, body: unknown) {
  const res = await exports.default.fetch(
    new Request(`http://segflow.test/api/segments/${id}/export`, {
      ...json(body),
      headers: { ...json(body).headers, ...(await sessionHeaders(user)) },
    }),
  );
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const csvOf = (bytes: Uint8Array) => parseCsv(bytes);

/** The sheet's rows as text cells (inline strings and numbers), read back from the XLSX's XML. */
function xlsxRows(bytes: Uint8Array): string[][] {
  const files = unzipSync(bytes);
  for (const part of ['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels', 'xl/styles.xml'])
    expect(files[part], part).toBeDefined();
  const xml = strFromU8(files['xl/worksheets/sheet1.xml']!);
  const unescape = (s: string) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&');
  const col = (ref: string) => [...ref.replace(/\d+/g, '')].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
  return [...xml.matchAll(/<row r="(\d+)">(.*?)<\/row>/g)].map((m, i) => {
    expect(Number(m[1])).toBe(i + 1);
    const row: string[] = [];
    for (const c of m[2]!.matchAll(/<c r="([A-Z]+\d+)"[^>]*>(?:<v>([^<]*)<\/v>|<is><t[^>]*>([^<]*)<\/t><\/is>)<\/c>/g))
      row[col(c[1]!)] = unescape(c[2] ?? c[3] ?? '');
    return Array.from(row, (v) => v ?? '');
  });
}

/** Each segment's members on its own: its stored predicate and the viewer's scope, one SELECT. */
async function membersOf(segmentId: number, user: TestUser): Promise<Set<number>> {
  const { logic } = (await db.prepare('SELECT logic FROM segments WHERE id = ?').bind(segmentId).first<{ logic: string }>())!;
  const w = compileWhere(JSON.parse(logic) as JsonLogic, previewContext(env, Date.now()));
  if (!w.ok) throw new Error('segment does not compile');
  const path = user.departmentId
    ? (await db.prepare('SELECT path FROM departments WHERE id = ?').bind(user.departmentId).first<{ path: string }>())!.path
    : null;
  const scope = user.role === 'super_admin' ? '' : ` AND c.department_id IN (SELECT id FROM departments WHERE instr(path, ?) = 1)`;
  const { results } = await db
    .prepare(`SELECT c.id FROM contacts c WHERE (${w.value.sql})${scope}`)
    .bind(...w.value.params, ...(scope ? [path] : []))
    .all<{ id: number }>();
  return new Set(results.map((r) => r.id));
}

beforeAll(async () => {
  await seedSmallWorld();
  // 240 more contacts, attributes cycling at co-prime periods so every combination occurs
  await db
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 240)
       INSERT INTO contacts (id, kind, external_id, name, gender, region, department_id, bucket, total_spend, created_at, updated_at)
       SELECT 100 + i, CASE i % 4 WHEN 0 THEN 'friend' WHEN 1 THEN 'wecom_customer' WHEN 2 THEN 'follower' ELSE 'group_member' END,
         'gen_' || i, '生成' || i, CASE i % 3 WHEN 0 THEN 'male' WHEN 1 THEN 'female' ELSE 'unknown' END,
         CASE i % 5 WHEN 0 THEN '广东' WHEN 1 THEN '上海' ELSE '浙江' END,
         CASE i % 7 WHEN 0 THEN NULL WHEN 1 THEN 1 WHEN 2 THEN 2 WHEN 3 THEN 3 ELSE 4 END,
         i % 10000, (i * 7919) % 120000, 0, 0 FROM n`,
    )
    .run();
  await db
    .prepare(
      `INSERT INTO contact_tags (contact_id, tag_id, source, added_at) SELECT id, 1, 'manual', 0 FROM contacts WHERE id > 100 AND id % 3 = 0`,
    )
    .run();
  for (const [name, conds] of Object.entries(SEGMENTS)) {
    const res = await api(
      '/api/segments',
      json({ name: `页面-${name}`, graph: graphOf(...conds), departmentId: name === 'southSpenders' ? 4 : 2 }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    ids[name] = res.body.id;
  }
  // a phone and an ID number on 张伟 (in 上海一组, inside 华东)
  const keys = await fieldKeys(env);
  await db
    .prepare('UPDATE contacts SET phone_enc = ?, id_number_enc = ?, device = ?, source_channel = ? WHERE id = 1')
    .bind(await sealField(keys, '13800138001'), await sealField(keys, '11010519491231002X'), 'ios', '展会二维码')
    .run();
});

describe('GET /api/segments/:id/overlap', () => {
  it('agrees with counting each segment’s members on its own, for every pair and every viewer’s scope', async () => {
    const names = Object.keys(SEGMENTS);
    let compared = 0;
    for (const user of VIEWERS) {
      for (const a of names) {
        for (const b of names) {
          const res = await apiAs<SegmentOverlapResponse>(user, `/api/segments/${ids[a]}/overlap?with=${ids[b]}`);
          if (user === SOUTH && (a !== 'southSpenders' || b !== 'southSpenders')) {
            // 华南's admin sees neither 华东 segment: the page's own is missing (404), the other one unknown (400)
            expect(res.status).toBe(a !== 'southSpenders' ? 404 : 400);
            continue;
          }
          if (user !== ROOT && user !== SOUTH && (a === 'southSpenders' || b === 'southSpenders')) {
            expect(res.status).toBe(a === 'southSpenders' ? 404 : 400);
            continue;
          }
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          const A = await membersOf(ids[a]!, user);
          const B = await membersOf(ids[b]!, user);
          const both = [...A].filter((x) => B.has(x)).length;
          expect({
            a: res.body.a.size,
            b: res.body.b.size,
            both: res.body.both,
            either: res.body.either,
            onlyA: res.body.onlyA,
            onlyB: res.body.onlyB,
          }).toEqual({
            a: A.size,
            b: B.size,
            both,
            either: new Set([...A, ...B]).size,
            onlyA: A.size - both,
            onlyB: B.size - both,
          });
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(60);
  });

  it('counts sizes that are the segments list’s sizes for the same viewer, and pairs that really overlap', async () => {
    for (const user of [ROOT, ADMIN]) {
      const list = await apiAs(user, '/api/segments?pageSize=100');
      const size = (id: number) => list.body.items.find((s: { id: number }) => s.id === id).size;
      const o = await apiAs<SegmentOverlapResponse>(user, `/api/segments/${ids.spenders}/overlap?with=${ids.women}`);
      expect(o.body.a.size).toBe(size(ids.spenders!));
      expect(o.body.b.size).toBe(size(ids.women!));
      // the world was built to overlap partly: each of the four regions is non-empty
      expect(o.body.both).toBeGreaterThan(0);
      expect(o.body.onlyA).toBeGreaterThan(0);
      expect(o.body.onlyB).toBeGreaterThan(0);
    }
    const admin = await apiAs<SegmentOverlapResponse>(ADMIN, `/api/segments/${ids.spenders}/overlap?with=${ids.women}`);
    const root = await api<SegmentOverlapResponse>(`/api/segments/${ids.spenders}/overlap?with=${ids.women}`);
    expect(admin.body.either).toBeLessThan(root.body.either);
  });

  it('refuses a missing or malformed other segment, and a draft that does not compile, naming the problem', async () => {
    const missing = await api(`/api/segments/${ids.spenders}/overlap?with=99999`);
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toEqual([{ path: 'with', message: 'no such segment' }]);
    expect((await api(`/api/segments/${ids.spenders}/overlap?with=abc`)).status).toBe(400);
    expect((await api(`/api/segments/${ids.spenders}/overlap`)).status).toBe(400);
    expect((await api(`/api/segments/99999/overlap?with=${ids.spenders}`)).status).toBe(404);
    const draft = await db
      .prepare(`INSERT INTO segments (name, graph, logic, created_at, updated_at) VALUES ('草稿', '{}', 'null', 0, 0) RETURNING id`)
      .first<number>('id');
    const res = await api(`/api/segments/${ids.spenders}/overlap?with=${draft}`);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('草稿');
  });
});

describe('GET /api/segments/:id/history', () => {
  it('reads the snapshots: totals for super admins, their subtree’s share for the others, null on unrecorded days', async () => {
    const first = await api<SegmentHistoryResponse>(`/api/segments/${ids.women}/history`);
    expect(first.status).toBe(200);
    expect(first.body.days).toHaveLength(90);
    expect(first.body.sizes.every((s) => s === null)).toBe(true);
    const today = first.body.days.at(-1)!;
    const id = ids.women!;
    // three recorded days; 华东 is departments 2 and 3, 华南 4, 0 the contacts without one
    const rows: [number, number, number][] = [];
    for (const [ago, sizes] of [
      [20, { 0: 1, 1: 2, 2: 3, 3: 4, 4: 5 }],
      [5, { 0: 0, 1: 2, 2: 10, 3: 0, 4: 7 }],
      [0, { 0: 2, 1: 1, 2: 6, 3: 5, 4: 9 }],
    ] as const)
      for (const [dept, size] of Object.entries(sizes)) rows.push([today - ago, Number(dept), size]);
    await db.batch([
      ...rows.map(([day, dept, size]) =>
        db
          .prepare('INSERT INTO segment_snapshot_departments (segment_id, day, department_id, size) VALUES (?, ?, ?, ?)')
          .bind(id, day, dept, size),
      ),
      ...[20, 5, 0].map((ago) =>
        db
          .prepare(
            'INSERT INTO segment_snapshots (segment_id, day, size) SELECT ?1, ?2, SUM(size) FROM segment_snapshot_departments WHERE segment_id = ?1 AND day = ?2',
          )
          .bind(id, today - ago),
      ),
      // a snapshot older than the window stays out
      db.prepare('INSERT INTO segment_snapshots (segment_id, day, size) VALUES (?, ?, 999)').bind(id, today - 200),
    ]);
    const sizesAt = (h: SegmentHistoryResponse) => Object.fromEntries([20, 5, 0].map((ago) => [ago, h.sizes[h.days.length - 1 - ago]]));
    const root = await api<SegmentHistoryResponse>(`/api/segments/${id}/history`);
    expect(sizesAt(root.body)).toEqual({ 20: 15, 5: 19, 0: 23 });
    expect(root.body.sizes.filter((s) => s !== null)).toHaveLength(3);
    const admin = await apiAs<SegmentHistoryResponse>(ADMIN, `/api/segments/${id}/history`);
    expect(sizesAt(admin.body)).toEqual({ 20: 7, 5: 10, 0: 11 });
    const staff = await apiAs<SegmentHistoryResponse>(STAFF, `/api/segments/${id}/history`);
    expect(staff.body.sizes).toEqual(admin.body.sizes);
    // 华南's admin may not see a 华东 segment at all
    expect((await apiAs(SOUTH, `/api/segments/${id}/history`)).status).toBe(404);
    expect((await api('/api/segments/99999/history')).status).toBe(404);
  });
});

describe('POST /api/segments/:id/export', () => {
  it('exports CSV with Chinese labels and, for a super admin, the phone and ID number in clear', async () => {
    const res = await rawExport(ROOT, ids.wecom!, { format: 'csv' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain(encodeURIComponent('页面-wecom'));
    const sheet = csvOf(res.bytes);
    expect(sheet.headers).toContain('手机号');
    expect(sheet.headers).toContain('身份证号');
    const members = await membersOf(ids.wecom!, ROOT);
    expect(sheet.rows).toHaveLength(members.size);
    expect(res.headers.get('x-export-rows')).toBe(String(members.size));
    const zhang = sheet.rows.find((r) => r.cells[0] === 'wm_a')!.cells;
    const at = (h: string) => zhang[sheet.headers.indexOf(h)];
    expect([at('类型'), at('性别'), at('设备'), at('来源渠道'), at('手机号'), at('身份证号')]).toEqual([
      '企业微信客户',
      '男',
      'iOS',
      '展会二维码',
      '13800138001',
      '11010519491231002X',
    ]);
    expect(new Set(sheet.rows.map((r) => r.cells[sheet.headers.indexOf('类型')]))).toEqual(new Set(['企业微信客户']));
  });

  it('speaks English when asked: headers and kind / gender words', async () => {
    const res = await rawExport(ROOT, ids.women!, { format: 'csv', locale: 'en' });
    const sheet = csvOf(res.bytes);
    expect(sheet.headers.slice(0, 4)).toEqual(['External ID', 'Name', 'Kind', 'Gender']);
    expect(new Set(sheet.rows.map((r) => r.cells[3]))).toEqual(new Set(['Female']));
    expect(new Set(sheet.rows.map((r) => r.cells[2]))).toEqual(
      new Set(['WeChat friend', 'WeCom customer', 'Official-account follower', 'Group member']),
    );
  });

  it('leaves sealed fields out for staff and department admins, and exports only the contacts they may see', async () => {
    for (const user of [STAFF, ADMIN]) {
      const res = await rawExport(user, ids.wecom!, { format: 'csv' });
      expect(res.status).toBe(200);
      const text = new TextDecoder().decode(res.bytes);
      const sheet = csvOf(res.bytes);
      expect(sheet.headers).not.toContain('手机号');
      expect(sheet.headers).not.toContain('身份证号');
      expect(text).not.toContain('13800138001');
      expect(text).not.toContain('138****8001');
      expect(text).not.toContain('1949');
      const members = await membersOf(ids.wecom!, user);
      const byExternal = await db.prepare('SELECT id, external_id FROM contacts').all<{ id: number; external_id: string }>();
      const idOf = new Map(byExternal.results.map((r) => [r.external_id, r.id]));
      expect(new Set(sheet.rows.map((r) => idOf.get(r.cells[0]!)))).toEqual(members);
      expect(sheet.rows.some((r) => r.cells[0] === 'wm_a')).toBe(true);
      expect(sheet.rows.some((r) => r.cells[0] === 'wm_e')).toBe(false); // 陈静 is in 总部, above 华东
    }
  });

  it('exports XLSX: a workbook whose sheet reads back to the same rows as the CSV, labels in the locale, numbers as numbers', async () => {
    for (const locale of ['zh-CN', 'en'] as const) {
      const xlsx = await rawExport(ROOT, ids.spenders!, { format: 'xlsx', locale });
      expect(xlsx.status).toBe(200);
      expect(xlsx.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      expect(xlsx.headers.get('content-disposition')).toMatch(/filename="contacts-\d{4}-\d{2}-\d{2}\.xlsx"/);
      const rows = xlsxRows(xlsx.bytes);
      const csv = csvOf((await rawExport(ROOT, ids.spenders!, { format: 'csv', locale })).bytes);
      expect(rows[0]).toEqual(csv.headers);
      expect(rows).toHaveLength(csv.rows.length + 1);
      const strip = (cells: string[]) => cells.map((c) => c.replace(/^'/, ''));
      expect(rows.slice(1).map((r) => strip(r).join('|').replace(/\|+$/, ''))).toEqual(
        csv.rows.map((r) => strip(r.cells).join('|').replace(/\|+$/, '')),
      );
      const zhang = rows.find((r) => r[0] === 'wm_a')!;
      expect(zhang[2]).toBe(locale === 'en' ? 'WeCom customer' : '企业微信客户');
      expect(zhang).toContain('13800138001');
    }
    // an empty audience and a one-page one (DEFLATE gives nothing for a small page until the end)
    const empty = await rawExport(ROOT, ids.nobody!, { format: 'xlsx' });
    expect(xlsxRows(empty.bytes)).toEqual([csvOf((await rawExport(ROOT, ids.nobody!, { format: 'csv' })).bytes).headers]);
    const south = await rawExport(ROOT, ids.southSpenders!, { format: 'xlsx' });
    expect(xlsxRows(south.bytes)).toHaveLength((await membersOf(ids.southSpenders!, ROOT)).size + 1);
    // spend is a number cell (<v>), not text
    const files = unzipSync((await rawExport(ROOT, ids.spenders!, { format: 'xlsx' })).bytes);
    expect(strFromU8(files['xl/worksheets/sheet1.xml']!)).toMatch(/<c r="L\d+"><v>1280<\/v><\/c>/);
  });

  it('streams an XLSX of several D1 pages (keyset), every contact once', async () => {
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4500)
         INSERT INTO contacts (kind, external_id, name, gender, department_id, bucket, total_spend, created_at, updated_at)
         SELECT 'friend', 'bulk_' || i, '批量<&>' || i, 'female', 2, i % 10000, 0, 0, 0 FROM n`,
      )
      .run();
    try {
      const res = await rawExport(ADMIN, ids.women!, { format: 'xlsx' });
      const rows = xlsxRows(res.bytes).slice(1);
      const members = await membersOf(ids.women!, ADMIN);
      expect(members.size).toBeGreaterThan(4500);
      expect(rows).toHaveLength(members.size);
      expect(new Set(rows.map((r) => r[0])).size).toBe(members.size);
      expect(rows.find((r) => r[0] === 'bulk_4500')![1]).toBe('批量<&>4500');
      expect(res.headers.get('x-export-rows')).toBe(String(members.size));
    } finally {
      await db.prepare(`DELETE FROM contacts WHERE external_id LIKE 'bulk_%'`).run();
    }
  });

  it('is audited before the file is sent: the segment, the format, the rows and whether sealed fields went out', async () => {
    const res = await rawExport(STAFF, ids.active!, { format: 'xlsx', locale: 'en' });
    expect(res.status).toBe(200);
    const row = await db
      .prepare(
        `SELECT action, object_type, object_id, actor_user_id, params, after FROM audit_log WHERE action = 'contact.export' ORDER BY id DESC LIMIT 1`,
      )
      .first<{ action: string; object_type: string; object_id: string; actor_user_id: number; params: string; after: string }>();
    const rows = (await membersOf(ids.active!, STAFF)).size;
    expect(row).toMatchObject({ object_type: 'segment', object_id: String(ids.active), actor_user_id: STAFF.id });
    expect(JSON.parse(row!.after)).toEqual({ segmentId: ids.active, rows, format: 'xlsx', locale: 'en', sealed: false });
    expect(JSON.parse(row!.params)).toEqual({ variant: 'segment_xlsx', count: rows, segment: '页面-active' });
  });

  it('refuses a bad format, an unknown or hidden segment and a draft with a 4xx naming the problem', async () => {
    const bad = await api(`/api/segments/${ids.women}/export`, json({ format: 'pdf' }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('format');
    expect((await api(`/api/segments/${ids.women}/export`, json({ format: 'csv', extra: 1 }))).status).toBe(400);
    expect((await api(`/api/segments/${ids.women}/export`, json({}))).status).toBe(400);
    expect((await api('/api/segments/99999/export', json({ format: 'csv' }))).status).toBe(404);
    expect((await apiAs(SOUTH, `/api/segments/${ids.women}/export`, json({ format: 'csv' }))).status).toBe(404);
    const draft = await db
      .prepare(`INSERT INTO segments (name, graph, logic, created_at, updated_at) VALUES ('未完成', '{}', 'null', 0, 0) RETURNING id`)
      .first<number>('id');
    expect((await api(`/api/segments/${draft}/export`, json({ format: 'csv' }))).status).toBe(409);
    const before = await db.prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'contact.export'`).first<number>('n');
    await api(`/api/segments/${ids.women}/export`, json({ format: 'doc' }));
    expect(await db.prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'contact.export'`).first<number>('n')).toBe(before);
  });
});
