/**
 * Rollback from the tag ledger, over demo data with a real history: a rule published (v1), manual
 * edits through the contacts API, a second version (v2). Rolling back to a time gives exactly the
 * state an independent replay of the ledger rows (plain JS below) says; undoing one rule version
 * reverts only its changes and reports what someone changed since as skipped; a retired tag comes
 * back with its holders; a rollback is undone; confirmations are enforced by the API.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { expectedOf, type PublishResponse, type RuleDetail, type RulePreviewOk, type RulePreviewResponse } from '@shared/api/rules';
import type { RollbackList, RollbackPreview, RollbackResult } from '@shared/api/rollbacks';
import type { ConditionSpec, RuleGraph } from '@shared/rules/types';
import { api, apiAs } from './fixtures';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const tag: Record<string, number> = {};
const count = async (sql: string, ...params: unknown[]) =>
  (await db
    .prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;
const tick = () => new Promise((r) => setTimeout(r, 5));

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 300, seed: 41, now: Date.now() - 60_000, avgEvents: 8 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  for (const name of ['活跃客户', '新客', '沉睡客户', '流失客户', 'VIP', '待跟进', '意向代理', '双11预热', '待激活']) {
    tag[name] = (await db.prepare('SELECT id FROM tags WHERE name = ?').bind(name).first<{ id: number }>())!.id;
  }
});

// ---- independent computations over the raw rows ----

interface LedgerRow {
  id: number;
  contact_id: number;
  tag_id: number;
  op: 'add' | 'remove';
  at: number;
  rule_id: number | null;
  rule_version: number | null;
  batch_id: string | null;
  source: string;
}
const ledger = async () => (await db.prepare('SELECT * FROM tag_ledger ORDER BY id').all<LedgerRow>()).results;
const key = (c: number, t: number) => `${c}:${t}`;

/** Holdings at `at`: replay every ledger row up to it, in order. */
function replay(rows: LedgerRow[], at: number, contactId?: number): string[] {
  const held = new Set<string>();
  for (const r of rows) {
    if (r.at > at || (contactId !== undefined && r.contact_id !== contactId)) continue;
    if (r.op === 'add') held.add(key(r.contact_id, r.tag_id));
    else held.delete(key(r.contact_id, r.tag_id));
  }
  return [...held].sort();
}
async function holdings(contactId?: number): Promise<string[]> {
  const { results } = await db
    .prepare(`SELECT contact_id, tag_id FROM contact_tags ${contactId === undefined ? '' : 'WHERE contact_id = ?'}`)
    .bind(...(contactId === undefined ? [] : [contactId]))
    .all<{ contact_id: number; tag_id: number }>();
  return results.map((r) => key(r.contact_id, r.tag_id)).sort();
}
async function tableCounts() {
  const n = (table: string) => count(`SELECT count(*) AS n FROM ${table}`);
  return {
    contactTags: await n('contact_tags'),
    ledger: await n('tag_ledger'),
    rollbacks: await n('rollbacks'),
    audit: await n('audit_log'),
  };
}

// ---- rules through the API, as the publish tests do ----

function graph(addTag: number, removeTag: number, cond: ConditionSpec): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c', kind: 'condition', condition: cond },
      { id: 'add', kind: 'action', action: { type: 'add_tag', tagId: addTag } },
      { id: 'rm', kind: 'action', action: { type: 'remove_tag', tagId: removeTag } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'add', sourceHandle: 'yes' },
      { id: 'e3', source: 'c', target: 'rm', sourceHandle: 'no' },
    ],
  };
}
async function publish(ruleId: number, g: RuleGraph): Promise<PublishResponse> {
  const saved = await api(`/api/rules/${ruleId}/draft`, json({ graph: g }, 'PUT'));
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  const p = await api<RulePreviewResponse>('/api/rules/preview', json({ graph: g, ruleId, rolloutPercent: 100, sampleSize: 0 }));
  const ok = p.body as RulePreviewOk;
  const r = await api<PublishResponse>(
    `/api/rules/${ruleId}/publish`,
    json({ rolloutPercent: 100, graphHash: ok.graphHash, expected: expectedOf(ok.counts), confirm: true }),
  );
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}
const spend = (fen: number): ConditionSpec => ({ field: 'totalSpend', op: 'gte', value: fen });

// ---- rollbacks through the API ----

/**
 * Preview, refuse without the count, then roll back with it; checks the one rollbacks row, the
 * one audit row and that the ledger rows of the new batch are exactly the counts the preview gave.
 */
async function rollBack(target: Record<string, unknown>): Promise<{ preview: RollbackPreview; result: RollbackResult }> {
  const p = await api<RollbackPreview>('/api/rollbacks/preview', json(target));
  expect(p.status, JSON.stringify(p.body)).toBe(200);
  const before = await tableCounts();
  const r = await api<RollbackResult>('/api/rollbacks', json({ ...target, confirm: { count: p.body.count } }));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const after = await tableCounts();
  expect(after.rollbacks - before.rollbacks).toBe(1);
  expect(after.audit - before.audit).toBe(1);
  expect(after.ledger - before.ledger).toBe(p.body.count);
  expect(after.contactTags - before.contactTags).toBe(p.body.add - p.body.remove);
  const { batchId } = r.body.rollback;
  expect(r.body.rollback).toMatchObject({
    kind: target.kind,
    added: p.body.add,
    removed: p.body.remove,
    undoneAt: null,
    createdBy: { id: 9001 },
  });
  expect(
    await count("SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ? AND source = 'rollback' AND actor_user_id = 9001", batchId),
  ).toBe(p.body.count);
  const audit = await db
    .prepare("SELECT action, object_id, after FROM audit_log WHERE object_type = 'rollback' ORDER BY id DESC LIMIT 1")
    .first<{ action: string; object_id: string; after: string }>();
  expect(audit).toMatchObject({ action: `rollback.${String(target.kind)}`, object_id: String(r.body.rollback.id) });
  expect(JSON.parse(audit!.after)).toMatchObject({ batchId, add: p.body.add, remove: p.body.remove });
  expect(await count('SELECT count(*) AS n FROM tag_apply_targets')).toBe(0);
  return { preview: p.body, result: r.body };
}

describe('rollback after a rule run, manual edits and a second version', () => {
  let ruleId = 0;
  let t1 = 0;
  let v1Added: number[] = [];
  let v1Removed: number[] = [];
  let manuallyRemoved = 0;
  let manuallyReadded = 0;
  let untouched = 0;

  it('builds the history: v1 adds VIP and removes 待跟进, a person edits by hand, v2 widens VIP and removes 待激活', async () => {
    const rule = await api<RuleDetail>(
      '/api/rules',
      json({ name: '回滚测试：VIP', graph: graph(tag['VIP']!, tag['待跟进']!, spend(20_000)) }),
    );
    expect(rule.status).toBe(201);
    ruleId = rule.body.id;
    await publish(ruleId, graph(tag['VIP']!, tag['待跟进']!, spend(20_000)));
    const rows = (await ledger()).filter((r) => r.rule_id === ruleId && r.rule_version === 1);
    v1Added = rows.filter((r) => r.op === 'add').map((r) => r.contact_id);
    v1Removed = rows.filter((r) => r.op === 'remove').map((r) => r.contact_id);
    expect(v1Added.length).toBeGreaterThan(2);
    expect(v1Removed.length).toBeGreaterThan(1);
    await tick();
    t1 = Date.now();
    await tick();

    // a person takes VIP away from one contact v1 tagged, and gives 待跟进 back to one v1 untagged
    manuallyRemoved = v1Added[0]!;
    manuallyReadded = v1Removed[0]!;
    untouched = v1Added[1]!;
    expect((await api(`/api/contacts/${manuallyRemoved}/tags`, json({ remove: [tag['VIP']] }))).status).toBe(200);
    expect((await api(`/api/contacts/${manuallyReadded}/tags`, json({ add: [tag['待跟进'], tag['意向代理']] }))).status).toBe(200);
    await tick();
    const v2 = await publish(ruleId, graph(tag['VIP']!, tag['待激活']!, spend(5_000)));
    expect(v2.version).toBe(2);
    expect(await count('SELECT count(*) AS n FROM tag_ledger WHERE rule_id = ? AND rule_version = 2', ruleId)).toBeGreaterThan(0);
  });

  it('refuses without the confirmation or with a stale count, naming the object and the count, and writes nothing', async () => {
    const target = { kind: 'rule_version', ruleId, version: 1 };
    const p = await api<RollbackPreview>('/api/rollbacks/preview', json(target));
    expect(p.body.count).toBeGreaterThan(0);
    const before = await tableCounts();
    const missing = await api('/api/rollbacks', json(target));
    expect(missing.status).toBe(409);
    expect(missing.body.error.code).toBe('confirmation_required');
    expect(missing.body.error.message).toContain('version 1 of rule "回滚测试：VIP"');
    expect(missing.body.error.message).toContain(`confirm.count = ${p.body.count}`);
    expect(missing.body.error.details).toEqual([
      { path: 'confirm.count', message: String(p.body.count) },
      { path: 'confirm.object', message: 'version 1 of rule "回滚测试：VIP"' },
    ]);
    const wrong = await api('/api/rollbacks', json({ ...target, confirm: { count: p.body.count + 1 } }));
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.code).toBe('confirmation_required');
    expect(await tableCounts()).toEqual(before);
  });

  let snapshotBeforeUndo: string[] = [];
  let undoV1Id = 0;

  it('undoing v1 reverts only its changes; what a person changed since is kept and reported as skipped', async () => {
    snapshotBeforeUndo = await holdings();
    const rows = await ledger();
    // independently: per contact × tag v1 touched, the state before its first row, unless a later row exists
    const expectAdd = new Set<string>();
    const expectRemove = new Set<string>();
    let conflicts = 0;
    const pairs = new Map<string, LedgerRow[]>();
    for (const r of rows)
      if (r.rule_id === ruleId && r.rule_version === 1)
        pairs.set(key(r.contact_id, r.tag_id), [...(pairs.get(key(r.contact_id, r.tag_id)) ?? []), r]);
    for (const [k, own] of pairs) {
      const first = own[0]!;
      const last = own[own.length - 1]!;
      if (first.op !== last.op) continue;
      if (rows.some((r) => key(r.contact_id, r.tag_id) === k && r.id > last.id)) conflicts++;
      else (first.op === 'add' ? expectRemove : expectAdd).add(k);
    }
    expect(conflicts).toBe(2); // the VIP taken away and the 待跟进 given back by hand

    const { preview } = await rollBack({ kind: 'rule_version', ruleId, version: 1 });
    undoV1Id = (await api<RollbackList>('/api/rollbacks')).body.items[0]!.id;
    expect(preview).toMatchObject({
      add: expectAdd.size,
      remove: expectRemove.size,
      displaced: 0,
      skipped: 2,
      skippedReasons: { conflict: 2, retired: 0, gone: 0 },
    });
    expect(preview.object).toBe('version 1 of rule "回滚测试：VIP"');
    expect(preview.byTag.find((t) => t.tagId === tag['VIP'])).toMatchObject({ remove: expectRemove.size, skipped: 1 });
    expect(preview.sampleContacts.length).toBeGreaterThan(0);

    const expected = new Set(snapshotBeforeUndo);
    for (const k of expectRemove) expected.delete(k);
    for (const k of expectAdd) expected.add(k);
    expect(await holdings()).toEqual([...expected].sort());
    // the hand edits stand; v1's VIP on an untouched contact is gone; v2's changes stay
    // (v2 gave the first VIP back; either way nobody's later change is undone)
    for (const c of [manuallyRemoved, manuallyReadded])
      expect(await holdings(c)).toEqual(snapshotBeforeUndo.filter((k) => k.startsWith(`${c}:`)));
    expect(await holdings(manuallyReadded)).toContain(key(manuallyReadded, tag['待跟进']!));
    expect(await holdings(untouched)).not.toContain(key(untouched, tag['VIP']!));
    const v2Adds = rows.filter((r) => r.rule_id === ruleId && r.rule_version === 2 && r.op === 'add');
    expect(v2Adds.length).toBeGreaterThan(0);
    const now = await holdings();
    for (const r of v2Adds) expect(now).toContain(key(r.contact_id, r.tag_id));
  });

  it('nothing left to undo is a 409, not an empty rollback', async () => {
    const r = await api('/api/rollbacks', json({ kind: 'rule_version', ruleId, version: 1, confirm: { count: 0 } }));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('conflict');
  });

  it('undoing the rollback gives back the state before it, and marks it undone', async () => {
    const p = await api<RollbackPreview>(
      `/api/rollbacks/preview`,
      json({ kind: 'batch', batchId: (await api<RollbackList>('/api/rollbacks')).body.items[0]!.batchId }),
    );
    expect(p.body.object).toBe(`rollback #${undoV1Id}`);
    const refused = await api(`/api/rollbacks/${undoV1Id}/undo`, json({}));
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(`Undoing rollback #${undoV1Id} changes`);
    const before = await tableCounts();
    const r = await api<RollbackResult>(`/api/rollbacks/${undoV1Id}/undo`, json({ confirm: { count: p.body.count } }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const after = await tableCounts();
    expect([after.rollbacks - before.rollbacks, after.audit - before.audit, after.ledger - before.ledger]).toEqual([1, 1, p.body.count]);
    expect(await holdings()).toEqual(snapshotBeforeUndo);
    const list = (await api<RollbackList>('/api/rollbacks')).body;
    expect(list.items[0]).toMatchObject({ id: r.body.rollback.id, kind: 'batch', params: { undoOf: undoV1Id } });
    expect(list.items.find((i) => i.id === undoV1Id)).toMatchObject({ undoneBy: r.body.rollback.id });
    expect(list.items.find((i) => i.id === undoV1Id)!.undoneAt).toBeTypeOf('number');
    expect((await api(`/api/rollbacks/${undoV1Id}/undo`, json({ confirm: { count: 0 } }))).status).toBe(409);
  });

  it('rolling back to time T gives exactly the state the ledger records at T', async () => {
    const target = Math.floor(t1);
    const expected = replay(await ledger(), target);
    expect(await holdings()).not.toEqual(expected);
    const { preview } = await rollBack({ kind: 'to_time', at: target });
    expect(preview.add + preview.remove).toBeGreaterThan(0);
    expect(await holdings()).toEqual(expected);
    // the rollback is itself in the ledger: replaying up to now gives today's state
    expect(replay(await ledger(), Date.now())).toEqual(await holdings());
  });

  it('rolls one contact back to before the manual edit, touching nobody else', async () => {
    const others = (await holdings()).filter((k) => !k.startsWith(`${manuallyReadded}:`));
    // give the contact something new, then roll them back to T1
    expect((await api(`/api/contacts/${manuallyReadded}/tags`, json({ add: [tag['待跟进']] }))).status).toBe(200);
    const expected = replay(await ledger(), t1, manuallyReadded);
    await rollBack({ kind: 'to_time', at: t1, contactId: manuallyReadded });
    expect(await holdings(manuallyReadded)).toEqual(expected);
    expect((await holdings()).filter((k) => !k.startsWith(`${manuallyReadded}:`))).toEqual(others);
  });
});

describe('exclusive groups: counts include displaced siblings', () => {
  it('undoing a version that added 活跃客户 gives the displaced 新客/沉睡客户/流失客户 back, counted in the preview', async () => {
    const lifecycle = [tag['新客']!, tag['沉睡客户']!, tag['流失客户']!];
    const g = graph(tag['活跃客户']!, tag['意向代理']!, { field: 'lastActiveAt', op: 'within_last_days', value: 30 });
    const rule = await api<RuleDetail>('/api/rules', json({ name: '回滚测试：活跃', graph: g }));
    const before = await holdings();
    await publish(rule.body.id, g);
    const afterPublish = await holdings();
    const displacedByRule = await count(
      `SELECT count(*) AS n FROM tag_ledger WHERE rule_id = ? AND op = 'remove' AND tag_id IN (${lifecycle.join(',')})`,
      rule.body.id,
    );
    expect(displacedByRule).toBeGreaterThan(0);
    const { preview } = await rollBack({ kind: 'rule_version', ruleId: rule.body.id, version: 1 });
    expect(preview.add).toBeGreaterThanOrEqual(displacedByRule);
    expect(await holdings()).toEqual(before);

    // and the reverse: undoing that rollback re-adds 活跃客户 and takes the siblings away again
    const list = (await api<RollbackList>('/api/rollbacks')).body;
    const p = await api<RollbackPreview>('/api/rollbacks/preview', json({ kind: 'batch', batchId: list.items[0]!.batchId }));
    const undo = await api<RollbackResult>(`/api/rollbacks/${list.items[0]!.id}/undo`, json({ confirm: { count: p.body.count } }));
    expect(undo.status).toBe(201);
    expect(undo.body.rollback).toMatchObject({ removed: p.body.remove, added: p.body.add });
    expect(await holdings()).toEqual(afterPublish);
  });

  it('restoring a tag of an exclusive group displaces the sibling a holder has now, and counts it', async () => {
    // a contact that held 沉睡客户 when it was retired, and holds 新客 now
    const sleeping = tag['沉睡客户']!;
    const fresh = tag['新客']!;
    const { results: rulesUsing } = await db.prepare("SELECT id FROM rules WHERE status = 'published'").all<{ id: number }>();
    for (const r of rulesUsing) expect((await api(`/api/rules/${r.id}/archive`, json({}))).status).toBe(200);
    const holder = (await db
      .prepare('SELECT contact_id FROM contact_tags WHERE tag_id = ? ORDER BY contact_id LIMIT 1')
      .bind(sleeping)
      .first<{ contact_id: number }>())!.contact_id;
    const sleepers = await count('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?', sleeping);
    expect((await api(`/api/taxonomy/tags/${sleeping}/retire`, json({ confirm: { count: sleepers } }))).status).toBe(200);
    await tick();
    // retired tags cannot be added, but can be removed: 新客 by hand takes it away
    expect((await api(`/api/contacts/${holder}/tags`, json({ add: [fresh] }))).status).toBe(200);
    expect(await holdings(holder)).toContain(key(holder, fresh));
    const { preview } = await rollBack({ kind: 'tag_restore', tagId: sleeping });
    expect(preview).toMatchObject({ add: 1, remove: 1, displaced: 1 });
    expect(preview.byTag.find((t) => t.tagId === fresh)).toMatchObject({ add: 0, remove: 1 });
    expect(await holdings(holder)).toContain(key(holder, sleeping));
    expect(await holdings(holder)).not.toContain(key(holder, fresh));
  });
});

describe('restoring a retired tag with its holders', () => {
  it('a tag merged away (holders removed) comes back with exactly the holders it had; undoing retires it again', async () => {
    const from = tag['意向代理']!;
    const into = tag['待跟进']!;
    // published rules may use 意向代理 (the test above): restore its use-free state by archiving them
    const { results: rulesUsing } = await db.prepare("SELECT id FROM rules WHERE status = 'published'").all<{ id: number }>();
    for (const r of rulesUsing) expect((await api(`/api/rules/${r.id}/archive`, json({}))).status).toBe(200);
    // the rule above takes 意向代理 from recently active contacts, so how many still hold it depends on
    // the day the demo data was generated: give it by hand to three contacts, so the merge always has holders
    const { results: extra } = await db
      .prepare('SELECT id FROM contacts WHERE id NOT IN (SELECT contact_id FROM contact_tags WHERE tag_id = ?) ORDER BY id LIMIT 3')
      .bind(from)
      .all<{ id: number }>();
    for (const c of extra) expect((await api(`/api/contacts/${c.id}/tags`, json({ add: [from] }))).status).toBe(200);
    const holdersBefore = (await holdings()).filter((k) => k.endsWith(`:${from}`));
    expect(holdersBefore.length).toBeGreaterThanOrEqual(3);
    const merged = await api(`/api/taxonomy/tags/${from}/merge`, json({ intoTagId: into, confirm: { count: holdersBefore.length } }));
    expect(merged.status, JSON.stringify(merged.body)).toBe(200);
    expect(await count('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?', from)).toBe(0);
    const afterMerge = await holdings();

    const { preview, result } = await rollBack({ kind: 'tag_restore', tagId: from });
    expect(preview.add).toBe(holdersBefore.length);
    expect(preview.object).toBe('retired tag "意向代理" with its holders');
    expect((await holdings()).filter((k) => k.endsWith(`:${from}`))).toEqual(holdersBefore);
    expect(await db.prepare('SELECT status, retired_at FROM tags WHERE id = ?').bind(from).first()).toEqual({
      status: 'active',
      retired_at: null,
    });
    // restoring again is refused: the tag is active
    expect((await api('/api/rollbacks/preview', json({ kind: 'tag_restore', tagId: from }))).status).toBe(409);

    const p = await api<RollbackPreview>('/api/rollbacks/preview', json({ kind: 'batch', batchId: result.rollback.batchId }));
    const undo = await api<RollbackResult>(`/api/rollbacks/${result.rollback.id}/undo`, json({ confirm: { count: p.body.count } }));
    expect(undo.status).toBe(201);
    expect(await holdings()).toEqual(afterMerge);
    expect((await db.prepare('SELECT status FROM tags WHERE id = ?').bind(from).first<{ status: string }>())!.status).toBe('retired');
  });

  it('a tag retired without losing holders is made active again and adds nobody', async () => {
    const lost = tag['流失客户']!;
    const lostHolders = await count('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?', lost);
    expect((await api(`/api/taxonomy/tags/${lost}/retire`, json({ confirm: { count: lostHolders } }))).status).toBe(200);
    const before = await holdings();
    expect(before.some((k) => k.endsWith(`:${lost}`))).toBe(true);
    const { preview } = await rollBack({ kind: 'tag_restore', tagId: lost });
    expect(preview.count).toBe(0);
    expect(await holdings()).toEqual(before);
    expect((await db.prepare('SELECT status FROM tags WHERE id = ?').bind(lost).first<{ status: string }>())!.status).toBe('active');
  });

  it('the demo’s retired campaign tag comes back with the holders the ledger records just before its retirement', async () => {
    const retired = tag['双11预热']!;
    const { retired_at } = (await db.prepare('SELECT retired_at FROM tags WHERE id = ?').bind(retired).first<{ retired_at: number }>())!;
    const atRetirement = replay(await ledger(), retired_at - 1).filter((k) => k.endsWith(`:${retired}`));
    const now = (await holdings()).filter((k) => k.endsWith(`:${retired}`));
    const missing = atRetirement.filter((k) => !now.includes(k));
    expect(missing.length).toBeGreaterThan(0);
    const { preview } = await rollBack({ kind: 'tag_restore', tagId: retired });
    expect(preview.add).toBe(missing.length);
    expect((await holdings()).filter((k) => k.endsWith(`:${retired}`))).toEqual([...new Set([...now, ...atRetirement])].sort());
  });
});

describe('access and bad input', () => {
  it('staff and department admins get 403 on every rollback route', async () => {
    for (const user of [
      { id: 9101, role: 'staff' as const, departmentId: 2 },
      { id: 9102, role: 'dept_admin' as const, departmentId: 2 },
    ]) {
      const before = await tableCounts();
      expect((await apiAs(user, '/api/rollbacks')).status).toBe(403);
      expect((await apiAs(user, '/api/rollbacks/preview', json({ kind: 'to_time', at: 0 }))).status).toBe(403);
      expect((await apiAs(user, '/api/rollbacks', json({ kind: 'to_time', at: 0, confirm: { count: 0 } }))).status).toBe(403);
      expect((await apiAs(user, '/api/rollbacks/1/undo', json({ confirm: { count: 0 } }))).status).toBe(403);
      expect(await tableCounts()).toEqual(before);
    }
  });

  it('names the problem: unknown kind, future time, unknown rule, version, tag, contact and batch', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ kind: 'everything' }, 400, 'kind'],
      [{ kind: 'to_time', at: Date.now() + 3_600_000 }, 400, 'at'],
      [{ kind: 'to_time', at: 'yesterday' }, 400, 'at'],
      [{ kind: 'to_time', at: 0, contactId: 999_999 }, 400, 'contactId'],
      [{ kind: 'rule_version', ruleId: 999_999, version: 1 }, 400, 'ruleId'],
      [{ kind: 'tag_restore', tagId: 999_999 }, 400, 'tagId'],
      [{ kind: 'batch', batchId: 'no-such-batch' }, 400, 'batchId'],
      [{ kind: 'batch', batchId: 'x', extra: 1 }, 400, 'extra'],
    ];
    for (const [body, status, path] of cases) {
      for (const url of ['/api/rollbacks/preview', '/api/rollbacks']) {
        const r = await api(url, json(body));
        expect(r.status, `${url} ${JSON.stringify(body)}`).toBe(status);
        expect(r.body.error.details?.map((d: { path: string }) => d.path).join(' '), JSON.stringify(r.body)).toContain(path);
      }
    }
    const rule = await db.prepare('SELECT id FROM rules LIMIT 1').first<{ id: number }>();
    const r = await api('/api/rollbacks/preview', json({ kind: 'rule_version', ruleId: rule!.id, version: 99 }));
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('version');
    expect((await api('/api/rollbacks/999999/undo', json({ confirm: { count: 0 } }))).status).toBe(404);
  });
});
