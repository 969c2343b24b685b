/**
 * Rollback gaps closed: an import's rollback is a rollback like the others (listed, audited,
 * refused on undo with the reason); an undo can be undone and the first rollback undone again,
 * back and forth, with the tag state and every row's status right at each step; rollbacks keep
 * the limits the rest of the product keeps (one tag per exclusive group, active-tag limits when a
 * tag comes back), and their preview counts exactly what they write.
 *
 * Small world (fixtures.ts): 生命周期 (exclusive) has 1 活跃客户, 2 沉睡客户; 兴趣偏好 has
 * 3 美妆, 4 护肤, 5 抗老, 6 旧标签 (retired). Contacts 1 wm_a 张伟 … 5 wm_e 陈静.
 */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, ROOT, seedSmallWorld } from './fixtures';
import type { RollbackList, RollbackPreview, RollbackRecord, RollbackResult } from '@shared/api/rollbacks';
import type { ImportRollbackResult } from '@shared/api/imports';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const count = async (sql: string, ...params: unknown[]) =>
  (await db
    .prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;
const tick = () => new Promise((r) => setTimeout(r, 5));
const ACTIVE = 1;
const SLEEPING = 2;
const BEAUTY = 3;

beforeEach(async () => {
  await db.batch(
    [
      'contact_tags',
      'tag_ledger',
      'events',
      'tags',
      'tag_groups',
      'contacts',
      'departments',
      'import_rows',
      'imports',
      'audit_log',
      'rollbacks',
    ].map((t) => db.prepare(`DELETE FROM ${t}`)),
  );
  await seedSmallWorld();
});

async function held(contactId: number): Promise<number[]> {
  const { results } = await db
    .prepare('SELECT tag_id FROM contact_tags WHERE contact_id = ? ORDER BY tag_id')
    .bind(contactId)
    .all<{ tag_id: number }>();
  return results.map((r) => r.tag_id);
}
async function allHoldings(): Promise<string[]> {
  const { results } = await db
    .prepare('SELECT contact_id, tag_id FROM contact_tags ORDER BY contact_id, tag_id')
    .all<{ contact_id: number; tag_id: number }>();
  return results.map((r) => `${r.contact_id}:${r.tag_id}`);
}
async function edit(contactId: number, body: { add?: number[]; remove?: number[] }) {
  const r = await api(`/api/contacts/${contactId}/tags`, json({ add: [], remove: [], ...body }));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  await tick();
}
async function history(): Promise<Map<number, RollbackRecord>> {
  const list = (await api<RollbackList>('/api/rollbacks?pageSize=100')).body;
  return new Map(list.items.map((i) => [i.id, i]));
}
const ledgerRows = () => count('SELECT count(*) AS n FROM tag_ledger');
const tagCount = () => count('SELECT count(*) AS n FROM contact_tags');

/** Asserts that what was written is what the preview said: ledger rows, holdings, the row's counts. */
async function expectPreviewWritten(preview: RollbackPreview, result: RollbackResult, before: { ledger: number; tags: number }) {
  expect(await ledgerRows()).toBe(before.ledger + preview.count);
  expect(await tagCount()).toBe(before.tags + preview.add - preview.remove);
  expect(result.rollback).toMatchObject({ added: preview.add, removed: preview.remove });
  expect(result.preview).toEqual(preview);
}

async function rollBack(target: Record<string, unknown>): Promise<RollbackResult> {
  const p = await api<RollbackPreview>('/api/rollbacks/preview', json(target));
  expect(p.status, JSON.stringify(p.body)).toBe(200);
  const before = { ledger: await ledgerRows(), tags: await tagCount() };
  const r = await api<RollbackResult>('/api/rollbacks', json({ ...target, confirm: { count: p.body.count } }));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  await expectPreviewWritten(p.body, r.body, before);
  await tick();
  return r.body;
}

/** Undo through the screen's path: preview the row's batch, then `/:id/undo` with that count. */
async function undo(id: number): Promise<RollbackResult> {
  const row = (await history()).get(id)!;
  const p = await api<RollbackPreview>('/api/rollbacks/preview', json({ kind: 'batch', batchId: row.batchId }));
  expect(p.status, JSON.stringify(p.body)).toBe(200);
  const before = { ledger: await ledgerRows(), tags: await tagCount() };
  const r = await api<RollbackResult>(`/api/rollbacks/${id}/undo`, json({ confirm: { count: p.body.count } }));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  await expectPreviewWritten(p.body, r.body, before);
  await tick();
  return r.body;
}

/** Each row's status as the list shows it, and `undone_at` agreeing with it. */
async function statuses(): Promise<Record<number, string>> {
  const out: Record<number, string> = {};
  for (const [id, r] of await history()) {
    out[id] = r.notUndoable === 'undone' ? `undone by #${r.undoneBy}` : (r.notUndoable ?? 'in effect');
    expect(r.undoneAt === null, `#${id} undone_at`).toBe(r.notUndoable !== 'undone');
  }
  return out;
}

describe('an import rollback is a rollback', () => {
  async function appliedImport(): Promise<string> {
    const created = await api(
      '/api/imports',
      json({ fileName: '会员名单.csv', headers: ['外部ID', '姓名', '城市', '标签'], mapping: ['externalId', 'name', 'city', 'tags'] }),
    );
    const id = created.body.id as string;
    const rows = [
      ['n_1', '新客户', '苏州', '美妆'],
      ['wxid_b', '李娜娜', '宁波', '沉睡客户'], // 李娜 holds 活跃客户 (exclusive): displaced
    ];
    expect((await api(`/api/imports/${id}/rows`, json({ rows: rows.map((cells, i) => ({ row: i + 2, cells })) }))).status).toBe(200);
    expect((await api(`/api/imports/${id}/dry-run`, json({}))).status).toBe(200);
    expect((await api(`/api/imports/${id}/apply`, json({}))).status).toBe(200);
    return id;
  }

  it('is recorded with kind import, its counts, its batch, the actor and the time, listed and audited', async () => {
    const id = await appliedImport();
    const t0 = Date.now();
    const res = await api<ImportRollbackResult>(`/api/imports/${id}/rollback`, json({}));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const batchId = `rollback-${id}`;
    const adds = await count("SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ? AND op = 'add'", batchId);
    const removes = await count("SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ? AND op = 'remove'", batchId);
    // 美妆 off the deleted contact, 沉睡客户 off 李娜, 活跃客户 back on her
    expect([adds, removes]).toEqual([1, 2]);
    expect(res.body.tagChangesReverted).toBe(3);

    const list = (await api<RollbackList>('/api/rollbacks')).body;
    expect(list.total).toBe(1);
    const row = list.items[0]!;
    expect(row).toMatchObject({
      id: res.body.rollbackId,
      kind: 'import',
      batchId,
      params: { importId: id, fileName: '会员名单.csv', contactsDeleted: 1, contactsRestored: 1 },
      added: 1,
      removed: 2,
      createdBy: { id: ROOT.id },
      undoneAt: null,
      undoneBy: null,
      notUndoable: 'import',
    });
    expect(row.createdAt).toBeGreaterThanOrEqual(t0);

    const audit = await db
      .prepare("SELECT action, object_type, object_id, params, actor_user_id FROM audit_log WHERE action LIKE 'rollback.%'")
      .all<{ action: string; object_type: string; object_id: string; params: string; actor_user_id: number }>();
    expect(audit.results).toHaveLength(1);
    expect(audit.results[0]).toMatchObject({
      action: 'rollback.import',
      object_type: 'rollback',
      object_id: String(row.id),
      actor_user_id: ROOT.id,
    });
    expect(JSON.parse(audit.results[0]!.params)).toEqual({
      file: '会员名单.csv',
      importId: id,
      deleted: 1,
      restored: 1,
      add: 1,
      remove: 2,
    });
    expect(await count("SELECT count(*) AS n FROM audit_log WHERE action = 'import.rollback'")).toBe(0);
  });

  it('cannot be undone: a 409 that says why, from the undo route and the batch route, writing nothing', async () => {
    const id = await appliedImport();
    const { rollbackId } = (await api<ImportRollbackResult>(`/api/imports/${id}/rollback`, json({}))).body;
    const before = {
      ledger: await ledgerRows(),
      tags: await allHoldings(),
      rollbacks: await count('SELECT count(*) AS n FROM rollbacks'),
      audit: await count('SELECT count(*) AS n FROM audit_log'),
    };

    const refused = await api(`/api/rollbacks/${rollbackId}/undo`, json({ confirm: { count: 3 } }));
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('conflict');
    expect(refused.body.error.message).toBe(
      `Rollback #${rollbackId} rolled back import "会员名单.csv" and cannot be undone: it deleted the 1 contact the import created, which cannot come back with their ids and history. Import the file again instead.`,
    );
    const preview = await api('/api/rollbacks/preview', json({ kind: 'batch', batchId: `rollback-${id}` }));
    expect(preview.status).toBe(409);
    expect(preview.body.error.message).toContain('cannot be undone');
    expect((await api('/api/rollbacks', json({ kind: 'batch', batchId: `rollback-${id}`, confirm: { count: 3 } }))).status).toBe(409);

    expect({
      ledger: await ledgerRows(),
      tags: await allHoldings(),
      rollbacks: await count('SELECT count(*) AS n FROM rollbacks'),
      audit: await count('SELECT count(*) AS n FROM audit_log'),
    }).toEqual(before);
  });

  it('an import that created nobody cannot be undone either: undoing it would be applying it again', async () => {
    const created = await api(
      '/api/imports',
      json({ fileName: '更新城市.csv', headers: ['外部ID', '城市'], mapping: ['externalId', 'city'] }),
    );
    const id = created.body.id as string;
    await api(`/api/imports/${id}/rows`, json({ rows: [{ row: 2, cells: ['wxid_b', '宁波'] }] }));
    await api(`/api/imports/${id}/dry-run`, json({}));
    expect((await api(`/api/imports/${id}/apply`, json({}))).status).toBe(200);
    const { rollbackId, contactsDeleted, contactsRestored } = (await api<ImportRollbackResult>(`/api/imports/${id}/rollback`, json({})))
      .body;
    expect([contactsDeleted, contactsRestored]).toEqual([0, 1]);
    const refused = await api(`/api/rollbacks/${rollbackId}/undo`, json({ confirm: { count: 0 } }));
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe(
      `Rollback #${rollbackId} rolled back import "更新城市.csv" and cannot be undone: undoing it means applying the import again (the contact values it restored, not only tags). Import the file again instead.`,
    );
    expect((await db.prepare('SELECT city FROM contacts WHERE id = 2').first<{ city: string }>())!.city).toBe('杭州');
  });
});

describe('undo, undo of the undo, and undoing again', () => {
  it('a rollback to a time goes back and forth through four undos, each row showing the right status', async () => {
    // 王芳 (3) gets 活跃客户 and 美妆 at T; then by hand 美妆 off and 沉睡客户 on (displacing 活跃客户)
    await edit(3, { add: [ACTIVE, BEAUTY] });
    const T = Date.now();
    await tick();
    await edit(3, { remove: [BEAUTY], add: [SLEEPING] });
    const s0 = await allHoldings();
    expect(await held(3)).toEqual([SLEEPING]);

    const r0 = await rollBack({ kind: 'to_time', at: T, contactId: 3 });
    const s1 = await allHoldings();
    expect(await held(3)).toEqual([ACTIVE, BEAUTY]);
    expect(await statuses()).toEqual({ [r0.rollback.id]: 'in effect' });

    const u1 = await undo(r0.rollback.id);
    expect(await allHoldings()).toEqual(s0);
    expect(await statuses()).toEqual({ [r0.rollback.id]: `undone by #${u1.rollback.id}`, [u1.rollback.id]: 'in effect' });

    // undo of the undo: the first rollback is in effect again
    const u2 = await undo(u1.rollback.id);
    expect(await allHoldings()).toEqual(s1);
    expect(await statuses()).toEqual({
      [r0.rollback.id]: 'in effect',
      [u1.rollback.id]: `undone by #${u2.rollback.id}`,
      [u2.rollback.id]: 'in effect',
    });

    // undoing the first rollback again (refused before: its rows were superseded, so all "conflicts")
    const u3 = await undo(r0.rollback.id);
    expect(u3.preview.object).toBe(`rollback #${r0.rollback.id}`);
    expect(u3.preview.reverses).toBe(u2.rollback.id);
    expect(u1.preview.reverses).toBeNull();
    expect(u3.preview.skipped).toBe(0);
    expect(u3.rollback.params).toEqual({ batchId: u2.rollback.batchId, undoOf: u2.rollback.id });
    expect(await allHoldings()).toEqual(s0);
    expect(await statuses()).toEqual({
      [r0.rollback.id]: `undone by #${u3.rollback.id}`,
      [u1.rollback.id]: 'in effect',
      [u2.rollback.id]: `undone by #${u3.rollback.id}`,
      [u3.rollback.id]: 'in effect',
    });

    // what is undone is refused with the undo to undo instead, and nothing is written
    const ledger = await ledgerRows();
    for (const id of [r0.rollback.id, u2.rollback.id]) {
      const again = await api(`/api/rollbacks/${id}/undo`, json({ confirm: { count: 3 } }));
      expect(again.status).toBe(409);
      expect(again.body.error.message).toBe(
        `Rollback #${id} is already undone by rollback #${u3.rollback.id}: undo #${u3.rollback.id} to bring its changes back`,
      );
    }
    expect(await ledgerRows()).toBe(ledger);

    // and once more: the chain's latest link is undone, the first rollback is back
    const u4 = await undo(u3.rollback.id);
    expect(await allHoldings()).toEqual(s1);
    const st = await statuses();
    expect(st[r0.rollback.id]).toBe('in effect');
    expect(st[u3.rollback.id]).toBe(`undone by #${u4.rollback.id}`);
    expect(st[u1.rollback.id]).toBe(`undone by #${u4.rollback.id}`);
  });

  it('a tag restore undone, put back (the tag active again with its holders) and undone again', async () => {
    const x = (await api('/api/taxonomy/tags', json({ groupId: 2, name: '直播粉丝' }))).body.id as number;
    await edit(2, { add: [x] });
    await edit(3, { add: [x] });
    expect((await api(`/api/taxonomy/tags/${x}/merge`, json({ intoTagId: BEAUTY, confirm: { count: 2 } }))).status).toBe(200);
    await tick();
    const status = async () => (await db.prepare('SELECT status FROM tags WHERE id = ?').bind(x).first<{ status: string }>())!.status;
    const holdersOfX = async () => (await allHoldings()).filter((k) => k.endsWith(`:${x}`));

    const r0 = await rollBack({ kind: 'tag_restore', tagId: x });
    expect([await status(), await holdersOfX()]).toEqual(['active', [`2:${x}`, `3:${x}`]]);
    await undo(r0.rollback.id);
    expect([await status(), await holdersOfX()]).toEqual(['retired', []]);
    const u1 = (await history()).get(r0.rollback.id)!.undoneBy!;
    // today's gap: the holders were "retired" skips, the tag stayed retired, and it was a 409
    const u2 = await undo(u1);
    expect(u2.preview).toMatchObject({ add: 2, skipped: 0 });
    expect([await status(), await holdersOfX()]).toEqual(['active', [`2:${x}`, `3:${x}`]]);
    await undo(r0.rollback.id);
    expect([await status(), await holdersOfX()]).toEqual(['retired', []]);
  });
});

describe('rollbacks keep the limits the tag writer and the taxonomy keep', () => {
  it('never plans two tags of an exclusive group for one contact: the preview counts exactly what is written', async () => {
    // 生命周期 made non-exclusive for a while: 王芳 holds both of its tags at T
    expect((await api('/api/taxonomy/groups/1', json({ exclusive: false }, 'PATCH'))).status).toBe(200);
    await edit(3, { add: [ACTIVE] });
    await edit(3, { add: [SLEEPING] });
    const T = Date.now();
    await tick();
    await edit(3, { remove: [ACTIVE, SLEEPING] });
    expect((await api('/api/taxonomy/groups/1', json({ exclusive: true }, 'PATCH'))).status).toBe(200);

    const p = (await api<RollbackPreview>('/api/rollbacks/preview', json({ kind: 'to_time', at: T, contactId: 3 }))).body;
    // one of the two comes back: the one held last (沉睡客户, added after 活跃客户); the other is skipped and said why
    expect(p).toMatchObject({
      add: 1,
      remove: 0,
      displaced: 0,
      count: 1,
      skipped: 1,
      skippedReasons: { conflict: 0, retired: 0, gone: 0, exclusive: 1 },
    });
    const r = await rollBack({ kind: 'to_time', at: T, contactId: 3 });
    expect(r.rollback).toMatchObject({ added: 1, removed: 0 });
    expect(await held(3)).toEqual([SLEEPING]);
  });

  it('undoing a batch that took two tags of a now exclusive group gives back one, counted exactly', async () => {
    expect((await api('/api/taxonomy/groups/1', json({ exclusive: false }, 'PATCH'))).status).toBe(200);
    await edit(1, { add: [SLEEPING] }); // 张伟 holds 活跃客户 already
    await edit(1, { remove: [ACTIVE, SLEEPING] });
    const batchId = (await db
      .prepare("SELECT batch_id FROM tag_ledger WHERE contact_id = 1 AND op = 'remove' ORDER BY id DESC LIMIT 1")
      .first<{ batch_id: string }>())!.batch_id;
    expect((await api('/api/taxonomy/groups/1', json({ exclusive: true }, 'PATCH'))).status).toBe(200);
    const r = await rollBack({ kind: 'batch', batchId });
    expect(r.preview).toMatchObject({ add: 1, skipped: 1, skippedReasons: { exclusive: 1 } });
    expect((await held(1)).filter((t) => t === ACTIVE || t === SLEEPING)).toHaveLength(1);
  });

  it('restoring a retired tag is refused while its group is at its active-tag limit, as restoring by hand is', async () => {
    // 兴趣偏好 has 3 active tags: a limit of 3 leaves no room for 旧标签
    expect((await api('/api/taxonomy/groups/2', json({ maxTags: 3 }, 'PATCH'))).status).toBe(200);
    const byHand = await api('/api/taxonomy/tags/6/restore', json({}));
    expect(byHand.status).toBe(409);
    for (const res of [
      await api('/api/rollbacks/preview', json({ kind: 'tag_restore', tagId: 6 })),
      await api('/api/rollbacks', json({ kind: 'tag_restore', tagId: 6, confirm: { count: 0 } })),
    ]) {
      expect(res.status).toBe(409);
      expect(res.body.error.message).toBe(byHand.body.error.message);
    }
    expect((await db.prepare('SELECT status FROM tags WHERE id = 6').first<{ status: string }>())!.status).toBe('retired');
    expect((await api('/api/taxonomy/groups/2', json({ maxTags: 4 }, 'PATCH'))).status).toBe(200);
    await rollBack({ kind: 'tag_restore', tagId: 6 });
    expect((await db.prepare('SELECT status FROM tags WHERE id = 6').first<{ status: string }>())!.status).toBe('active');
  });

  it('undoing the undo of a tag restore is refused when the group filled up meanwhile', async () => {
    const r0 = await rollBack({ kind: 'tag_restore', tagId: 6 });
    const u1 = await undo(r0.rollback.id);
    expect((await api('/api/taxonomy/groups/2', json({ maxTags: 3 }, 'PATCH'))).status).toBe(200);
    const p = await api(`/api/rollbacks/preview`, json({ kind: 'batch', batchId: u1.rollback.batchId }));
    expect(p.status).toBe(409);
    expect(p.body.error.message).toBe('Group 兴趣偏好 has reached its limit of 3 active tags');
    expect((await api(`/api/rollbacks/${u1.rollback.id}/undo`, json({ confirm: { count: 0 } }))).status).toBe(409);
    expect((await db.prepare('SELECT status FROM tags WHERE id = 6').first<{ status: string }>())!.status).toBe('retired');
  });
});
