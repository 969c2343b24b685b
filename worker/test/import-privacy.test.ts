import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, api, seedSmallWorld, sessionHeaders } from './fixtures';
import { app } from '../src/app';

/**
 * Imports keep no phone or ID number in clear (the byte-level scan of D1's files is
 * e2e/privacy.test.ts), and one ragged CSV line is one rejected row, not a failed file.
 */
const db = env.DB;
const post = (path: string, body?: unknown) =>
  api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const HEADERS = ['外部ID', '姓名', '手机', '身份证号', '城市'];
const MAPPING = ['externalId', 'name', 'phone', 'idNumber', 'city'];

async function staged(rows: { row: number; cells: string[] }[], mapping: (string | null)[] = MAPPING) {
  const created = await post('/api/imports', { fileName: 'people.csv', headers: HEADERS, mapping });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const res = await post(`/api/imports/${id}/rows`, { rows });
  expect(res.status).toBe(200);
  return id;
}

/** Every text D1 holds for this import: staged rows, the import, and its audit entries. */
async function storedText(id: string): Promise<string> {
  const rows = await db.prepare('SELECT * FROM import_rows WHERE import_id = ?').bind(id).all();
  const imp = await db.prepare('SELECT * FROM imports WHERE id = ?').bind(id).all();
  const audit = await db.prepare('SELECT * FROM audit_log WHERE object_id = ?').bind(id).all();
  return JSON.stringify([rows.results, imp.results, audit.results]);
}

beforeAll(async () => {
  await seedSmallWorld();
});

describe('a ragged CSV line', () => {
  it('is one rejected row of the dry run, with its row number and reason; the other rows are still classified', async () => {
    const id = await staged([
      { row: 2, cells: ['r_1', '甲', '', '', '杭州'] },
      { row: 3, cells: ['r_2', '乙', '', '', '苏州'] },
      { row: 4, cells: ['r_3', '丙', '', '', '南京'] },
      { row: 5, cells: ['r_4', '丁', '', '', '宁波'] },
      { row: 6, cells: ['r_5', '戊', '', '', '温州'] },
      { row: 7, cells: ['r_6', '己', '', '', '嘉兴'] },
      // one delimiter too many: the values after 姓名 are shifted
      { row: 8, cells: ['r_7', '庚', '', '', '绍兴', '多出来的'] },
      // trailing empty cells (a trailing comma, Excel's padding) are harmless
      { row: 9, cells: ['r_8', '辛', '', '', '湖州', '', ' '] },
    ]);
    const res = await post(`/api/imports/${id}/dry-run`, {});
    expect(res.status).toBe(200);
    expect(res.body.counts).toEqual({ total: 8, new: 7, updated: 0, unchanged: 0, rejected: 1 });
    expect(res.body.rejections).toEqual([{ row: 8, column: 5, field: null, reason: 'extra_cells', value: '多出来的', detail: '5' }]);
    const applied = await post(`/api/imports/${id}/apply`);
    expect(applied.status).toBe(200);
    expect(applied.body.counts.new).toBe(7);
    expect(await db.prepare(`SELECT count(*) AS n FROM contacts WHERE external_id = 'r_7'`).first('n')).toBe(0);
  });
});

describe('personal data in staged imports', () => {
  const PHONE = '13912345001';
  const ID = '11010519491231002X';
  const BAD_PHONE = '1391234500'; // ten digits: rejected, and still a phone number in all but name

  it('seals staged cells and rejected values, while the report still shows them to the super admin', async () => {
    const id = await staged([
      { row: 2, cells: ['s_1', '有手机', '139 1234 5001', ID.toLowerCase(), '杭州'] },
      { row: 3, cells: ['s_2', '错手机', BAD_PHONE, '', '苏州'] },
      // the same phone twice in the file: the duplicate's rejection carries the number
      { row: 4, cells: ['s_3', '重复', PHONE, '', '南京'] },
    ]);
    const before = await storedText(id);
    for (const secret of [PHONE, BAD_PHONE, ID, ID.toLowerCase(), '1234 5001']) expect(before).not.toContain(secret);

    const res = await post(`/api/imports/${id}/dry-run`, {});
    expect(res.status).toBe(200);
    expect(res.body.counts).toMatchObject({ total: 3, new: 1, rejected: 2 });
    expect(res.body.rejections).toEqual([
      { row: 3, column: 2, field: 'phone', reason: 'invalid_phone', value: BAD_PHONE },
      { row: 4, column: 2, field: 'phone', reason: 'duplicate_in_file', value: PHONE, detail: '2' },
    ]);
    expect((await post(`/api/imports/${id}/apply`)).status).toBe(200);
    const after = await storedText(id);
    for (const secret of [PHONE, BAD_PHONE, ID, ID.toLowerCase()]) expect(after).not.toContain(secret);
    // the contact itself: sealed and hashed, as before
    const contact = await db.prepare(`SELECT * FROM contacts WHERE external_id = 's_1'`).first();
    expect(JSON.stringify(contact)).not.toContain(PHONE);
    expect(contact).toMatchObject({ phone_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('keeps no sample values of a refused file in its audit entry', async () => {
    // phone numbers under 姓名 and names under 手机: the whole file is refused, showing samples in the report only
    const id = await staged([
      { row: 2, cells: ['m_1', '13912345011', '错位甲', '', ''] },
      { row: 3, cells: ['m_2', '13912345012', '错位乙', '', ''] },
    ]);
    const res = await post(`/api/imports/${id}/dry-run`, {});
    expect(res.status).toBe(200);
    expect(res.body.misaligned.map((m: { field: string }) => m.field)).toEqual(['name', 'phone']);
    expect(res.body.misaligned[0].samples).toEqual(['13912345011', '13912345012']);
    const text = await storedText(id);
    expect(text).toContain('misaligned');
    expect(text).not.toContain('13912345011');
    expect(text).not.toContain('13912345012');
  });

  it('still reads rows staged in clear before sealing (a JSON array as text)', async () => {
    const id = await staged([{ row: 2, cells: ['l_1', '旧行', '', '', '杭州'] }]);
    await db
      .prepare(`UPDATE import_rows SET cells = ? WHERE import_id = ?`)
      .bind(JSON.stringify(['l_1', '旧行', '', '', '上海']), id)
      .run();
    const res = await post(`/api/imports/${id}/dry-run`, {});
    expect(res.status).toBe(200);
    expect(res.body.counts).toMatchObject({ total: 1, new: 1 });
  });
});

describe('migration 0009: personal data written in clear before sealing', () => {
  it('empties old cells, drops unapplied imports staged in clear, and strips values from rejections and audit entries', async () => {
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0009_'))!;
    expect(migration).toBeDefined();
    const old = (status: string, id: string) =>
      db
        .prepare(
          `INSERT INTO imports (id, status, file_name, headers, mapping, default_kind, created_at) VALUES (?, ?, 'old.csv', '[]', '[]', 'friend', 0)`,
        )
        .bind(id, status);
    const A = '00000000-0000-4000-8000-00000000000a'; // applied
    const S = '00000000-0000-4000-8000-00000000000b'; // staged in clear, not applied
    const N = await staged([{ row: 2, cells: ['n_1', '新行', '13912349999', '', ''] }]); // sealed: kept
    await db.batch([
      old('applied', A),
      old('staging', S),
      db
        .prepare(
          `INSERT INTO import_rows (import_id, row, cells, status, rejections) VALUES (?, 2, ?, 'new', NULL), (?, 3, ?, 'rejected', ?), (?, 2, ?, NULL, NULL)`,
        )
        .bind(
          A,
          JSON.stringify(['o_1', '老行', '13912340001']),
          A,
          JSON.stringify(['o_2', '老行二', '1391234000']),
          JSON.stringify([{ row: 3, column: 2, field: 'phone', reason: 'invalid_phone', value: '1391234000' }]),
          S,
          JSON.stringify(['o_3', '草稿', '13912340003']),
        ),
      db
        .prepare(
          `INSERT INTO audit_log (at, action, object_type, object_id, summary, params, after) VALUES (0, 'import.dry_run', 'import', ?, 's', '{}', ?), (0, 'contact.export', 'contact', '*', 's', '{}', ?)`,
        )
        .bind(
          A,
          JSON.stringify({
            mapping: ['name'],
            misaligned: [{ column: 1, field: 'name', checked: 2, bad: 2, samples: ['13912340004', '13912340005'] }],
          }),
          JSON.stringify({ filter: { q: '13912340006', kind: 'friend' }, rows: 1 }),
        ),
    ]);
    await db.batch(migration.queries.map((q) => db.prepare(q)));

    const rows = (
      await db
        .prepare('SELECT import_id, row, cells, rejections FROM import_rows WHERE import_id IN (?, ?, ?) ORDER BY import_id, row')
        .bind(A, S, N)
        .all<Record<string, string>>()
    ).results;
    expect(rows.filter((r) => r.import_id === A).map((r) => [r.cells, r.rejections])).toEqual([
      ['[]', null],
      ['[]', JSON.stringify([{ row: 3, column: 2, field: 'phone', reason: 'invalid_phone' }])],
    ]);
    expect(rows.filter((r) => r.import_id === S)).toEqual([]);
    expect(await db.prepare('SELECT count(*) AS n FROM imports WHERE id = ?').bind(S).first('n')).toBe(0);
    expect(rows.filter((r) => r.import_id === N)).toHaveLength(1); // sealed rows are left alone
    expect((await post(`/api/imports/${N}/dry-run`, {})).body.counts).toMatchObject({ total: 1, new: 1 });

    const audit = (
      await db
        .prepare(`SELECT after FROM audit_log WHERE at = 0 AND action IN ('import.dry_run', 'contact.export') ORDER BY id`)
        .all<{ after: string }>()
    ).results.map((r) => JSON.parse(r.after));
    expect(audit).toEqual([
      { mapping: ['name'], misaligned: [{ column: 1, field: 'name', checked: 2, bad: 2 }] },
      { filter: { kind: 'friend' }, rows: 1 },
    ]);
  });
});

describe('without FIELD_KEY', () => {
  it('refuses to start an import with 503 (its rows could not be sealed) and writes nothing', async () => {
    const before = await db.prepare('SELECT count(*) AS n FROM imports').first('n');
    const headers = { ...(await sessionHeaders(ROOT)), 'content-type': 'application/json' };
    const req = new Request('http://segflow.test/api/imports', {
      method: 'POST',
      headers,
      body: JSON.stringify({ fileName: 'a.csv', headers: HEADERS, mapping: MAPPING }),
    });
    const res = await app.fetch(req, { ...env, FIELD_KEY: undefined });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('FIELD_KEY');
    expect(await db.prepare('SELECT count(*) AS n FROM imports').first('n')).toBe(before);
  });
});
