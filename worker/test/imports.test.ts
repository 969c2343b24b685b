import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, apiAs, ROOT, seedSmallWorld } from './fixtures';

// Small world (fixtures.ts): 生命周期 (exclusive) has 1 活跃客户, 2 沉睡客户; 兴趣偏好 has
// 3 美妆, 4 护肤, 5 抗老, 6 旧标签 (retired). Contacts 1 wm_a 张伟 … 5 wm_e 陈静.
const db = env.DB;
const post = (path: string, body?: unknown) =>
  api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const HEADERS = ['外部ID', '姓名', '手机', '城市', '标签'];
const MAPPING = ['externalId', 'name', 'phone', 'city', 'tags'];

async function count(sql: string, ...params: unknown[]): Promise<number> {
  return (await db
    .prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;
}

/** Everything an import could write, as one comparable snapshot. */
async function snapshot() {
  const all = async (sql: string) => (await db.prepare(sql).all()).results;
  return {
    contacts: await all('SELECT * FROM contacts ORDER BY id'),
    tags: await all('SELECT * FROM contact_tags ORDER BY contact_id, tag_id'),
    ledger: await all('SELECT * FROM tag_ledger ORDER BY id'),
  };
}

async function createImport(rows: string[][], headers = HEADERS, mapping: (string | null)[] = MAPPING) {
  const created = await post('/api/imports', { fileName: 'contacts.csv', headers, mapping });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const staged = await post(`/api/imports/${id}/rows`, { rows: rows.map((cells, i) => ({ row: i + 2, cells })) });
  expect(staged.status).toBe(200);
  return id;
}

beforeEach(async () => {
  await db.batch([
    // users of the permission test belong to a department this reset deletes
    db.prepare(`DELETE FROM sessions WHERE user_id <> ?`).bind(ROOT.id),
    db.prepare(`DELETE FROM users WHERE id <> ?`).bind(ROOT.id),
  ]);
  await db.batch(
    ['contact_tags', 'tag_ledger', 'events', 'tags', 'tag_groups', 'contacts', 'departments', 'import_rows', 'imports', 'audit_log'].map(
      (t) => db.prepare(`DELETE FROM ${t}`),
    ),
  );
  await seedSmallWorld();
});

describe('import dry run', () => {
  it('classifies rows as new, updated, unchanged and rejected, with row, column and reason', async () => {
    const id = await createImport([
      ['n_1', '新客户', '13800138001', '苏州', '美妆'], // new
      ['wm_a', '张伟', '', '上海', '生命周期/活跃客户'], // existing, same values and tag held: unchanged
      ['wxid_b', '李娜', '', '宁波', ''], // existing, city changes: updated
      ['n_2', '王五', '12345', '', ''], // bad phone
      ['n_3', '赵六', '', '', '不存在的标签'], // unknown tag
      ['n_1', '重复', '', '', ''], // duplicate external id in the file
      ['n_4', '孙七', '', '', '美妆, 旧标签'], // retired tag
    ]);
    const { status, body } = await post(`/api/imports/${id}/dry-run`, {});
    expect(status).toBe(200);
    expect(body.counts).toEqual({ total: 7, new: 1, updated: 1, unchanged: 1, rejected: 4 });
    expect(body.rejections).toEqual([
      { row: 5, column: 2, field: 'phone', reason: 'invalid_phone', value: '12345' },
      { row: 6, column: 4, field: 'tags', reason: 'unknown_tag', value: '不存在的标签', detail: '不存在的标签' },
      { row: 7, column: 0, field: 'externalId', reason: 'duplicate_in_file', value: 'n_1', detail: '2' },
      { row: 8, column: 4, field: 'tags', reason: 'retired_tag', value: '美妆, 旧标签', detail: '旧标签' },
    ]);
    expect(body.tagCount).toBe(2);
  });

  it('refuses a file with a shifted column as a whole, then accepts it once the mapping is fixed', async () => {
    // the file has no name column, but the mapping (guessed from a template) says column 1 is 姓名
    const id = await createImport(
      [
        ['n_1', '13800138001', '苏州'],
        ['n_2', '13800138002', '杭州'],
        ['n_3', '13800138003', '南京'],
      ],
      ['外部ID', '姓名', '手机'],
      ['externalId', 'name', 'phone'],
    );
    const bad = await post(`/api/imports/${id}/dry-run`, {});
    expect(bad.status).toBe(200);
    expect(bad.body.status).toBe('staging');
    expect(bad.body.misaligned.map((m: { column: number; field: string }) => [m.column, m.field])).toEqual([
      [1, 'name'],
      [2, 'phone'],
    ]);
    expect(bad.body.counts).toMatchObject({ total: 3, rejected: 3, new: 0 });
    expect(bad.body.rejections[0]).toEqual({
      row: 2,
      column: 1,
      field: 'name',
      reason: 'misaligned_column',
      value: '13800138001',
      detail: 'looks_like_phone',
    });
    expect((await post(`/api/imports/${id}/apply`)).status).toBe(409);

    const fixed = await post(`/api/imports/${id}/dry-run`, { mapping: ['externalId', 'phone', 'city'] });
    expect(fixed.body).toMatchObject({ status: 'checked', misaligned: [], counts: { total: 3, new: 3, rejected: 0 } });
  });

  it('rejects a phone number that belongs to another contact, found by its keyed hash', async () => {
    const first = await createImport([['n_1', '甲', '13800138001', '', '']]);
    await post(`/api/imports/${first}/dry-run`, {});
    expect((await post(`/api/imports/${first}/apply`)).status).toBe(200);
    const stored = await db
      .prepare(`SELECT phone_hash, phone_enc FROM contacts WHERE external_id = 'n_1'`)
      .first<{ phone_hash: string; phone_enc: string }>();
    expect(stored!.phone_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.phone_enc).not.toContain('13800138001');

    const second = await createImport([
      ['n_2', '乙', '+86 138 0013 8001', '', ''],
      ['n_1', '甲', '', '', ''],
    ]);
    const { body } = await post(`/api/imports/${second}/dry-run`, {});
    expect(body.counts).toEqual({ total: 2, new: 0, updated: 0, unchanged: 1, rejected: 1 });
    expect(body.rejections).toEqual([{ row: 2, column: 2, field: 'phone', reason: 'phone_taken', detail: 'n_1' }]);
  });

  it('refuses bad requests with a 4xx naming the problem', async () => {
    const noExt = await post('/api/imports', { fileName: 'a.csv', headers: ['姓名'], mapping: ['name'] });
    expect(noExt.status).toBe(400);
    expect(noExt.body.error.details).toEqual([{ path: 'mapping', message: 'externalId must be mapped' }]);
    const mismatch = await post('/api/imports', { fileName: 'a.csv', headers: ['a', 'b'], mapping: ['externalId'] });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.details[0].path).toBe('mapping');
    const id = await createImport([['n_1', '甲', '', '', '']]);
    const tooMany = await post(`/api/imports/${id}/rows`, { rows: Array.from({ length: 2001 }, (_, i) => ({ row: i + 2, cells: ['x'] })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details[0].path).toBe('rows');
    // a row wider than the header is a rejected row of the dry run (import-privacy.test.ts); wider than any file, a 400
    const wide = await post(`/api/imports/${id}/rows`, { rows: [{ row: 9, cells: Array.from({ length: 62 }, () => 'x') }] });
    expect(wide.status).toBe(400);
    expect(wide.body.error.details[0].path).toBe('rows.0.cells');
    expect((await post('/api/imports/00000000-0000-4000-8000-000000000000/dry-run', {})).status).toBe(404);
    expect((await post('/api/imports/not-an-id/apply')).status).toBe(400);
  });
});

describe('import permissions', () => {
  it('is for super admins only: department admins and staff get 403 and nothing is created', async () => {
    await db.prepare(`INSERT INTO departments (id, name, parent_id, path) VALUES (9, '测试部', null, '/9/') ON CONFLICT DO NOTHING`).run();
    for (const role of ['dept_admin', 'staff'] as const) {
      const res = await apiAs({ id: role === 'staff' ? 9101 : 9102, role, departmentId: 9 }, '/api/imports', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fileName: 'a.csv', headers: ['外部ID'], mapping: ['externalId'] }),
      });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect(await count('SELECT count(*) AS n FROM imports')).toBe(0);
  });
});

describe('import apply and rollback', () => {
  it('writes new contacts, updates changed ones, adds tags with source import and the batch id, all audited', async () => {
    const id = await createImport([
      ['n_1', '新客户', '13800138001', '苏州', '兴趣偏好/美妆；护肤'],
      ['wxid_b', '', '', '宁波', '沉睡客户'], // 李娜 holds 活跃客户: exclusive group, so it is displaced
    ]);
    await post(`/api/imports/${id}/dry-run`, {});
    const { status, body } = await post(`/api/imports/${id}/apply`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'applied', counts: { new: 1, updated: 1 }, tagsAdded: 3 });

    const created = await db.prepare(`SELECT * FROM contacts WHERE external_id = 'n_1'`).first<Record<string, unknown>>();
    expect(created).toMatchObject({ name: '新客户', city: '苏州', kind: 'wecom_customer', gender: 'unknown' });
    const updated = await db.prepare(`SELECT name, city FROM contacts WHERE external_id = 'wxid_b'`).first();
    expect(updated).toEqual({ name: '李娜', city: '宁波' }); // an empty cell keeps the old value
    const ledger = (await db.prepare(`SELECT contact_id, tag_id, op, source, batch_id FROM tag_ledger ORDER BY id`).all()).results;
    expect(ledger).toEqual(
      expect.arrayContaining([
        { contact_id: created!.id, tag_id: 3, op: 'add', source: 'import', batch_id: `import-${id}` },
        { contact_id: created!.id, tag_id: 4, op: 'add', source: 'import', batch_id: `import-${id}` },
        { contact_id: 2, tag_id: 1, op: 'remove', source: 'import', batch_id: `import-${id}` },
        { contact_id: 2, tag_id: 2, op: 'add', source: 'import', batch_id: `import-${id}` },
      ]),
    );
    expect(ledger).toHaveLength(4);
    const audit = (
      await db
        .prepare(`SELECT action, actor_user_id FROM audit_log WHERE object_type = 'import' ORDER BY id`)
        .all<{ action: string; actor_user_id: number }>()
    ).results;
    expect(audit).toEqual(
      ['import.create', 'import.rows', 'import.dry_run', 'import.apply'].map((action) => ({ action, actor_user_id: ROOT.id })),
    );
    expect(await count(`SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ? AND actor_user_id = ?`, `import-${id}`, ROOT.id)).toBe(4);
    // applying twice is refused
    expect((await post(`/api/imports/${id}/apply`)).status).toBe(409);
  });

  it('puts the contacts it creates in the chosen department, whose admin then sees them; existing contacts keep theirs', async () => {
    const before = await db
      .prepare(`SELECT department_id FROM contacts WHERE external_id = 'wxid_b'`)
      .first<{ department_id: number | null }>();
    const created = await post('/api/imports', { fileName: 'south.csv', headers: HEADERS, mapping: MAPPING, departmentId: 4 });
    expect(created.status).toBe(201);
    expect(created.body.departmentId).toBe(4);
    const id = created.body.id as string;
    await post(`/api/imports/${id}/rows`, {
      rows: [
        { row: 2, cells: ['n_south', '华南新客', '', '广州', ''] },
        { row: 3, cells: ['wxid_b', '', '', '宁波', ''] },
      ],
    });
    await post(`/api/imports/${id}/dry-run`, {});
    expect((await post(`/api/imports/${id}/apply`)).status).toBe(200);
    expect(await count(`SELECT department_id AS n FROM contacts WHERE external_id = 'n_south'`)).toBe(4);
    const after = await db
      .prepare(`SELECT department_id FROM contacts WHERE external_id = 'wxid_b'`)
      .first<{ department_id: number | null }>();
    expect(after).toEqual(before);
    const south = await apiAs({ id: 9103, role: 'dept_admin', departmentId: 4 }, '/api/contacts?q=n_south');
    expect(south.status).toBe(200);
    expect(south.body.items.map((c: { externalId: string }) => c.externalId)).toEqual(['n_south']);
    const east = await apiAs({ id: 9104, role: 'dept_admin', departmentId: 2 }, '/api/contacts?q=n_south');
    expect(east.body.items).toEqual([]);
  });

  it('refuses an import into a department that does not exist', async () => {
    const res = await post('/api/imports', { fileName: 'a.csv', headers: HEADERS, mapping: MAPPING, departmentId: 999 });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'unknown_reference', details: [{ path: 'departmentId', message: 'no such department' }] });
    expect(await count('SELECT count(*) AS n FROM imports')).toBe(0);
  });

  it('writes nothing when the last statement of the apply batch fails', async () => {
    const id = await createImport([
      ['n_1', '新客户', '13800138001', '苏州', '美妆'],
      ['wxid_b', '李娜', '', '宁波', '沉睡客户'],
    ]);
    await post(`/api/imports/${id}/dry-run`, {});
    const before = await snapshot();
    const auditBefore = await count('SELECT count(*) AS n FROM audit_log');
    // a constraint violation planted in the batch's last write: the import's own status change
    await db
      .prepare(
        `CREATE TRIGGER planted_failure BEFORE UPDATE OF status ON imports WHEN NEW.status = 'applied' BEGIN SELECT RAISE(ABORT, 'planted failure'); END`,
      )
      .run();
    try {
      const failed = await post(`/api/imports/${id}/apply`);
      expect(failed.status).toBe(500);
      expect(await snapshot()).toEqual(before);
      expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(auditBefore);
      expect(await count(`SELECT count(*) AS n FROM imports WHERE id = ? AND status = 'checked'`, id)).toBe(1);
    } finally {
      await db.prepare('DROP TRIGGER planted_failure').run();
    }
    // the same import then applies in full
    expect((await post(`/api/imports/${id}/apply`)).status).toBe(200);
    expect(await count(`SELECT count(*) AS n FROM contacts WHERE external_id = 'n_1'`)).toBe(1);
  });

  it('rolls back one import: created contacts deleted, changed values restored, tag changes undone', async () => {
    const before = await snapshot();
    const id = await createImport([
      ['n_1', '新客户', '13800138001', '苏州', '美妆'],
      ['wxid_b', '李娜娜', '13900139000', '宁波', '沉睡客户'],
    ]);
    await post(`/api/imports/${id}/dry-run`, {});
    expect((await post(`/api/imports/${id}/apply`)).status).toBe(200);
    expect(await db.prepare(`SELECT name, city FROM contacts WHERE id = 2`).first()).toEqual({ name: '李娜娜', city: '宁波' });

    const { status, body } = await post(`/api/imports/${id}/rollback`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'rolled_back', contactsDeleted: 1, contactsRestored: 1 });
    const after = await snapshot();
    expect(after.contacts.map(({ updated_at, ...c }) => c)).toEqual(before.contacts.map(({ updated_at, ...c }) => c));
    expect(after.tags.map(({ added_at, source, ...t }) => t)).toEqual(before.tags.map(({ added_at, source, ...t }) => t));
    // history is kept: the import's rows and the rollback's rows
    const sources = (await db.prepare(`SELECT DISTINCT source FROM tag_ledger ORDER BY source`).all<{ source: string }>()).results.map(
      (r) => r.source,
    );
    expect(sources).toEqual(['import', 'rollback']);
    expect((await post(`/api/imports/${id}/rollback`)).status).toBe(409);
    // recorded as a rollback (rollback-gaps.test.ts covers the row, the list and the refused undo)
    expect(
      await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'rollback.import' AND object_id = ?`, String(body.rollbackId)),
    ).toBe(1);
    expect(
      await count(
        `SELECT count(*) AS n FROM rollbacks WHERE kind = 'import' AND id = ? AND json_extract(params, '$.importId') = ?`,
        body.rollbackId,
        id,
      ),
    ).toBe(1);
  });

  it('refuses to roll back when a contact it created has received events since', async () => {
    const id = await createImport([['n_1', '新客户', '', '', '']]);
    await post(`/api/imports/${id}/dry-run`, {});
    await post(`/api/imports/${id}/apply`);
    await db
      .prepare(
        `INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at) SELECT 's', 'e1', id, 'message', 1, 1 FROM contacts WHERE external_id = 'n_1'`,
      )
      .run();
    const res = await post(`/api/imports/${id}/rollback`);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/1 events/);
    expect(await count(`SELECT count(*) AS n FROM contacts WHERE external_id = 'n_1'`)).toBe(1);
  });

  it('refuses it too when those events were archived to R2 and only their daily rollup is left in D1', async () => {
    const id = await createImport([['n_2', '老客户', '', '', '']]);
    await post(`/api/imports/${id}/dry-run`, {});
    await post(`/api/imports/${id}/apply`);
    await db
      .prepare(
        `INSERT INTO contact_daily_stats (contact_id, type, day, count, amount) SELECT id, 'purchase', 20000, 3, 900 FROM contacts WHERE external_id = 'n_2'`,
      )
      .run();
    const res = await post(`/api/imports/${id}/rollback`);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/3 events/);
    expect(await count(`SELECT count(*) AS n FROM contacts WHERE external_id = 'n_2'`)).toBe(1);
  });
});
