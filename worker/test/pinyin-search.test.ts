/**
 * Names found the way people type them (issue 20): pinyin, initials, a mix, either script, for
 * contacts (list and export), owners (the contacts list's picker) and rules. Keys are written with
 * the name on every path (webhook, import, edit screens), and the cron keys what no path did.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql, SHOWCASE_NAMES } from '@shared/demo';
import type { ContactSummary, OwnerOption } from '@shared/api/contacts';
import type { Page } from '@shared/api/common';
import type { RuleListResponse } from '@shared/api/rules';
import type { TagGroupWithTags } from '@shared/api/tags';
import { keyQueued } from '../src/search/keys';
import { api, apiAs, untilStored, webhookSignature } from './fixtures';

const db = env.DB;
const SECRET = 'pinyin-secret';
const post = (path: string, body: unknown) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const [SHOWCASE_ID, SHOWCASE] = [...SHOWCASE_NAMES][0]!;

/** Names the contacts list finds for `q` (all pages' worth: the demo is small). */
async function found(q: string): Promise<string[]> {
  const r = await api<Page<ContactSummary>>(`/api/contacts?pageSize=100&q=${encodeURIComponent(q)}`);
  expect(r.status).toBe(200);
  return r.body.items.map((c) => c.name);
}

async function queued(kind: string): Promise<number> {
  return (await db.prepare('SELECT count(*) AS n FROM search_key_queue WHERE kind = ?').bind(kind).first<{ n: number }>())!.n;
}

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 300, seed: 3, now: Date.now(), avgEvents: 2 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  await db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('py', '拼音测试', 'generic', ?)`).bind(SECRET).run();
});

describe('keys of rows already there (the migration queues them, the cron keys them)', () => {
  it('leaves the demo unfound by pinyin until the cron step runs, then finds it', async () => {
    expect(await queued('contact')).toBeGreaterThanOrEqual(300);
    expect(await found('zlk')).not.toContain(SHOWCASE);
    // the cron's step, tick after tick, until nothing is left
    let ticks = 0;
    while ((await keyQueued(db, 100)) > 0) ticks++;
    expect(ticks).toBeGreaterThan(2);
    expect(await queued('contact')).toBe(0);
    expect(await queued('user')).toBe(0);
  });
});

describe('GET /api/contacts?q=', () => {
  it(`finds ${SHOWCASE} by initials, full pinyin, a mix, and in either script`, async () => {
    for (const q of ['zlk', 'zhangl', 'zhanglikun', 'ZHANG LI', 'zhang丽', '张丽坤', '張麗坤', '張麗']) {
      const names = await found(q);
      expect(names, q).toContain(SHOWCASE);
      // a pinyin or character prefix of someone else's name does not bring them in
      expect(
        names.every((n) => n === SHOWCASE || !n.startsWith('张丽坤')),
        q,
      ).toBe(true);
    }
    expect(await found('zlkx')).not.toContain(SHOWCASE);
    const row = (await api<ContactSummary>(`/api/contacts/${SHOWCASE_ID}`)).body;
    expect(row.name).toBe(SHOWCASE);
  });

  it('exports the same contacts the list finds by pinyin', async () => {
    const listed = await api<Page<ContactSummary>>(`/api/contacts?pageSize=100&q=zlk`);
    const exported = await post('/api/exports/contacts', { filter: { q: 'zlk' }, locale: 'zh-CN' });
    expect(exported.status).toBe(200);
    const lines = String(exported.body).trim().split('\n').length - 1;
    expect(lines).toBe(listed.body.total);
  });

  it('finds a contact created by a webhook as soon as it is stored, without the cron', async () => {
    const body = JSON.stringify({ id: 'py-1', type: 'message', contact: { externalId: 'py_new_1', name: '欧阳娜娜' }, text: '你好' });
    const ts = String(Math.floor(Date.now() / 1000));
    const r = await api('/api/webhooks/py', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'X-Segflow-Timestamp': ts,
        'X-Segflow-Signature': await webhookSignature(SECRET, ts, body),
      },
      body,
    });
    expect(r.status).toBe(202);
    await untilStored('py', ['py-1']); // the intake queue's consumer ran: no cron involved
    expect(await found('oyn')).toContain('欧阳娜娜');
    expect(await found('ouyang')).toContain('欧阳娜娜');
    expect(await queued('contact')).toBe(0);

    // renamed by a later event: the old name's keys are gone, the new one's are there
    const rename = JSON.stringify({ id: 'py-2', type: 'message', contact: { externalId: 'py_new_1', name: '司马光' }, text: '再见' });
    const r2 = await api('/api/webhooks/py', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'X-Segflow-Timestamp': ts,
        'X-Segflow-Signature': await webhookSignature(SECRET, ts, rename),
      },
      body: rename,
    });
    expect(r2.status).toBe(202);
    await untilStored('py', ['py-2']);
    expect(await found('oyn')).not.toContain('欧阳娜娜');
    expect(await found('smg')).toContain('司马光');
  });

  it('finds contacts created by an import at once, without the cron', async () => {
    const created = await post('/api/imports', {
      fileName: 'py.csv',
      headers: ['外部ID', '姓名'],
      mapping: ['externalId', 'name'],
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const rows = [
      ['py_imp_1', '诸葛亮'],
      ['py_imp_2', '上官婉儿'],
    ];
    expect((await post(`/api/imports/${id}/rows`, { rows: rows.map((cells, i) => ({ row: i + 2, cells })) })).status).toBe(200);
    expect((await post(`/api/imports/${id}/dry-run`, {})).status).toBe(200);
    expect((await post(`/api/imports/${id}/apply`, {})).status).toBe(200);
    expect(await found('zgl')).toContain('诸葛亮');
    expect(await found('shangguan')).toContain('上官婉儿');
    expect(await queued('contact')).toBe(0);
  });

  it('keys a name written by a path that does not key (raw SQL) at the next cron step, which also drops the old keys', async () => {
    await db.prepare(`UPDATE contacts SET name = '慕容复' WHERE external_id = 'py_imp_1'`).run();
    expect(await queued('contact')).toBe(1); // the trigger queued it
    expect(await found('mrf')).not.toContain('慕容复'); // not keyed yet: still found by its old keys…
    expect(await found('zgl')).toContain('慕容复');
    await keyQueued(db);
    expect(await found('mrf')).toContain('慕容复'); // …until the cron's step
    expect(await found('zgl')).not.toContain('慕容复');
    expect(await queued('contact')).toBe(0);
  });

  it('finds contacts by text inside name and remark through the index, as the old scan did', async () => {
    const remark = (await db.prepare('SELECT remark FROM contacts WHERE id = ?').bind(SHOWCASE_ID).first<{ remark: string | null }>())!
      .remark;
    expect(await found('丽坤')).toContain(SHOWCASE);
    if (remark) expect(await found(remark.slice(2, 5))).toContain(SHOWCASE);
    // the count the list gives equals a scan for the text written by hand, for a common character
    const scan = (await db
      .prepare(`SELECT count(*) AS n FROM contacts WHERE instr(name, '华') > 0 OR instr(remark, '华') > 0 OR external_id = '华'`)
      .first<{ n: number }>())!.n;
    const r = await api<Page<ContactSummary>>(`/api/contacts?q=${encodeURIComponent('华')}`);
    expect(scan).toBeGreaterThan(0);
    expect(r.body.total).toBe(scan);
  });
});

describe('GET /api/contacts/owners?q=', () => {
  it('finds a person by initials and full pinyin, within the viewer’s department for a department admin', async () => {
    const all = (await db.prepare('SELECT id, name, department_id FROM users WHERE disabled = 0').all<{ id: number; name: string }>())
      .results;
    const someone = all.find((u) => /^[\u4e00-\u9fa5]{2,3}$/.test(u.name))!;
    const { pinyinKeys } = await import('@shared/search/pinyin');
    const initials = pinyinKeys(someone.name, { person: true }).find((k) => /^[a-z]{2,3}$/.test(k))!;
    const r = await api<{ items: OwnerOption[] }>(`/api/contacts/owners?q=${initials}`);
    expect(r.status).toBe(200);
    expect(r.body.items.map((o) => o.id)).toContain(someone.id);
    expect((await api<{ items: OwnerOption[] }>(`/api/contacts/owners?id=${someone.id}`)).body.items.map((o) => o.id)).toEqual([
      someone.id,
    ]);
    expect((await api(`/api/contacts/owners?q=${'x'.repeat(51)}`)).status).toBe(400);
    expect((await api(`/api/contacts/owners?name=x`)).status).toBe(400);

    // a department admin sees the people of their own department subtree only
    const admin = await db
      .prepare(
        `SELECT u.id, u.email, u.department_id AS departmentId, d.path FROM users u JOIN departments d ON d.id = u.department_id WHERE u.role = 'dept_admin' LIMIT 1`,
      )
      .first<{ id: number; email: string; departmentId: number; path: string }>();
    const seen = await apiAs<{ items: OwnerOption[] }>(
      { id: admin!.id, role: 'dept_admin', departmentId: admin!.departmentId, email: admin!.email },
      '/api/contacts/owners',
    );
    const outside = (
      await db
        .prepare(`SELECT u.id FROM users u JOIN departments d ON d.id = u.department_id WHERE instr(d.path, ?) <> 1`)
        .bind(admin!.path)
        .all<{ id: number }>()
    ).results.map((u) => u.id);
    expect(outside.length).toBeGreaterThan(0);
    expect(seen.body.items.length).toBeGreaterThan(0);
    expect(seen.body.items.some((o) => outside.includes(o.id))).toBe(false);
  });

  it('filters the contacts list by owner', async () => {
    const owner = (await db
      .prepare('SELECT owner_user_id AS id, count(*) AS n FROM contacts WHERE owner_user_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1')
      .first<{ id: number; n: number }>())!;
    const r = await api<Page<ContactSummary>>(`/api/contacts?ownerUserId=${owner.id}&pageSize=100`);
    expect(r.body.total).toBe(owner.n);
    expect(r.body.items.every((c) => c.owner?.id === owner.id)).toBe(true);
  });
});

describe('GET /api/rules?q=', () => {
  it('finds a rule by the pinyin of its name, at once after create and after a rename', async () => {
    const r = await post('/api/rules', { name: '沉睡客户唤醒' });
    expect(r.status).toBe(201);
    const list = async (q: string) => (await api<RuleListResponse>(`/api/rules?q=${encodeURIComponent(q)}`)).body.items.map((i) => i.name);
    expect(await list('cskh')).toContain('沉睡客户唤醒');
    expect(await list('chenshui')).toContain('沉睡客户唤醒');
    const saved = await api(`/api/rules/${r.body.id}/draft`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '高价值复购', graph: r.body.draftGraph }),
    });
    expect(saved.status).toBe(200);
    expect(await list('cskh')).not.toContain('沉睡客户唤醒');
    expect(await list('gjz')).toContain('高价值复购');
  });
});

describe('GET /api/tag-groups: search keys for pickers', () => {
  it('sends each tag its pinyin keys, written with the name at create and at rename', async () => {
    const groupId = (await db.prepare('SELECT id FROM tag_groups ORDER BY id LIMIT 1').first<{ id: number }>())!.id;
    const created = await post('/api/taxonomy/tags', { groupId, name: '复购预警', allowDuplicate: true });
    expect(created.status).toBe(201);
    const keysOf = async (id: number) => {
      const groups = (await api<TagGroupWithTags[]>('/api/tag-groups')).body;
      return groups.flatMap((g) => g.tags).find((t) => t.id === id)!.searchKeys;
    };
    expect(await keysOf(created.body.id)).toEqual(expect.arrayContaining(['fugouyujing', 'fgyj']));
    const renamed = await api(`/api/taxonomy/tags/${created.body.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '流失召回' }),
    });
    expect(renamed.status).toBe(200);
    const keys = await keysOf(created.body.id);
    expect(keys).toEqual(expect.arrayContaining(['liushizhaohui', 'lszh']));
    expect(keys).not.toContain('fgyj');
    // only letters and digits go to the browser (the characters key stays on the server)
    expect(keys.every((k) => /^[a-z0-9]+$/.test(k))).toBe(true);
  });
});
